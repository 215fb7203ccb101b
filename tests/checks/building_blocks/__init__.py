"""The checks of notebook building_blocks: their catalogue and what is specific to them."""
