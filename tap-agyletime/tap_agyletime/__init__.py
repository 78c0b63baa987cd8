"""Singer tap for Agyle Time (Playvox WFM), built with the Meltano Singer SDK."""
