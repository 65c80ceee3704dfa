"""HTTP plumbing shared by the protocols served over HTTP (typed REST, V2 REST, WebSocket): the server
protocol, the edge middleware, body reading, responses, error rendering by mount, dependencies."""
