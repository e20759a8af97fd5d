"""Dumb storage backends behind one Backend protocol. No Solid rules here."""
