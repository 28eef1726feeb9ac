"""Other realtime servers run through the same fan-out workload: python-socketio with its Redis
manager, and Node's socket.io with its Redis adapter (installed on demand from the npm registry)."""
