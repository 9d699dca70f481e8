"""Geography: commune boundaries, reference territories, sectors."""
