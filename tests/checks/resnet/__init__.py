"""The checks of notebook resnet: their catalogue and what is specific to them."""
