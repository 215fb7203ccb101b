"""The checks of notebook classic_architectures: their catalogue and what is specific to them."""
