"""The checks of notebook deeplab: their catalogue and what is specific to them."""
