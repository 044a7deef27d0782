"""mistakes stage."""
