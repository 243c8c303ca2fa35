// `RedisClusterBus` takes a `RedisConfiguration`: `import HeraldRedisAdapter` brings the Redis client's types.
@_exported import HeraldRedis
@_exported import SocketIO
