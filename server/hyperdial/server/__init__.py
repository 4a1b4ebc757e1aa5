"""The hyperdial server: studies, trials and the algorithms that propose them."""
