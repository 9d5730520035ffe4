"""diagalg: symbolic tensor-diagram algebra (Penrose graphical notation)."""
