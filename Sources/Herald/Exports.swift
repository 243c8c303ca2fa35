// `HeraldConfiguration` and `HeraldNode` show the Socket.IO server, the Redis adapter and client, and the chat
// store's types: `import Herald` is enough to configure and embed a node.
@_exported import HeraldRedisAdapter
@_exported import HeraldStore
@_exported import SocketIO
