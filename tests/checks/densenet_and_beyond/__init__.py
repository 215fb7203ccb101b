"""The checks of notebook densenet_and_beyond: their catalogue and what is specific to them."""
