"""Web Access Control: which modes an operation needs, which are granted, and the decision."""
