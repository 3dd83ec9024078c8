"""`quantgate demo`: the whole product on one machine, with simulated backends."""
