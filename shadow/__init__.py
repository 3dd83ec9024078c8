"""Shadow traffic: mirroring a share of requests to the other arm, comparing the answers and writing them down."""
