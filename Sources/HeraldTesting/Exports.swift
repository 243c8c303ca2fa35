// The fixtures' API shows the cluster adapter's protocols (`InMemoryClusterBus` is a `ClusterBus`) and the
// Socket.IO types: `import HeraldTesting` brings them.
@_exported import HeraldRedisAdapter
