// The cluster adapter (`ClusterAdapter` over any `ClusterBus`) and its Redis bus (`RedisClusterBus`, which takes a
// `RedisConfiguration`): `import HeraldRedisAdapter` brings the Redis client's and SocketIO's types too.
@_exported import HeraldRedis
@_exported import SocketIO
