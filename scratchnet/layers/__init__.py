"""The layers, one concept per module. Import them from here."""
