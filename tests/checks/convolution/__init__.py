"""The checks of notebook convolution: their catalogue and what is specific to them."""
