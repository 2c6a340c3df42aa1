"""The model as data and code: the case catalog, seeded fixtures, block specs, the
composites written once over backend ops, numeric switches, and the machine's identity."""
