"""OpenNebula's side of the protocol: oned's messages parsed once into typed objects."""
