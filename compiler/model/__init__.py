"""The pydantic v2 flow model: what a Kestra 1.x flow may contain, checked at the boundary."""
