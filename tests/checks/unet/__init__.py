"""The checks of notebook unet: their catalogue and what is specific to them."""
