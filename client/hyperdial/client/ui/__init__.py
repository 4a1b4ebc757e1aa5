"""`hyperdial ui`: a web UI for studies, served by its own stateless process over the gRPC API."""
