// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "herald",
    // Synchronization's Mutex and Atomic, used throughout, need these.
    platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
    // What another package can depend on (README, "Herald as a library"). Each product re-exports the modules
    // its public API shows (`JSONValue` and `SocketIOEvent` come with `SocketIO` and `SocketIOClient`).
    products: [
        .library(name: "SocketIO", targets: ["SocketIO"]),
        .library(name: "SocketIOClient", targets: ["SocketIOClient"]),
        .library(name: "EngineIO", targets: ["EngineIO"]),
        .library(name: "HeraldWebSocket", targets: ["HeraldWebSocket"]),
        .library(name: "HeraldRedis", targets: ["HeraldRedis"]),
        .library(name: "HeraldRedisAdapter", targets: ["HeraldRedisAdapter"]),
        .library(name: "Herald", targets: ["Herald"]),
        .library(name: "HeraldTesting", targets: ["HeraldTesting"]),
        .executable(name: "herald", targets: ["herald"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Already in the graph through jwt-kit; herald signs webhooks with its HMAC.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // Already in the graph through jwt-kit; the one base64 (polling binary packets, the upgrade, JWT headers).
        .package(url: "https://github.com/swift-extras/swift-extras-base64.git", from: "1.2.0"),
    ],
    targets: [
        .target(name: "EngineIOProtocol", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ExtrasBase64", package: "swift-extras-base64"),
        ]),
        // Leaf: `%XX` escapes for every URL part read or written (HTTP queries and paths, Redis/PostgreSQL URLs).
        .target(name: "HeraldPercentCoding"),
        .target(name: "SocketIOProtocol", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "HeraldWebSocket", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ExtrasBase64", package: "swift-extras-base64"),
        ]),
        .target(name: "HeraldRedis", dependencies: [
            "HeraldPercentCoding",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EngineIO", dependencies: [
            "EngineIOProtocol", "HeraldWebSocket", "HeraldPercentCoding",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SocketIO", dependencies: [
            "EngineIO", "SocketIOProtocol",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "HeraldRedisAdapter", dependencies: [
            "SocketIO", "SocketIOProtocol", "EngineIO", "HeraldRedis",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SocketIOClient", dependencies: [
            "EngineIOProtocol", "SocketIOProtocol", "HeraldWebSocket", "HeraldPercentCoding",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HeraldStore", dependencies: [
            "HeraldPercentCoding",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SQLiteNIO", package: "sqlite-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .target(name: "Herald", dependencies: [
            "SocketIO", "HeraldRedisAdapter", "HeraldRedis", "HeraldStore", "HeraldPercentCoding",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ExtrasBase64", package: "swift-extras-base64"),
        ]),
        .executableTarget(name: "herald", dependencies: [
            "Herald", "HeraldBench", "SocketIO", "HeraldRedis", "HeraldRedisAdapter",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        .target(name: "HeraldBench", dependencies: [
            "EngineIOProtocol", "SocketIOProtocol", "HeraldWebSocket",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
        .target(name: "HeraldTesting", dependencies: [
            "EngineIO", "SocketIO", "SocketIOProtocol", "HeraldRedisAdapter", "HeraldRedis", "HeraldWebSocket",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
        ]),
        .executableTarget(name: "WebSocketEcho", dependencies: [
            "HeraldWebSocket",
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Examples/WebSocketEcho"),
        .executableTarget(name: "OrderStatus", dependencies: [
            "SocketIO", "SocketIOProtocol", "EngineIO",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Examples/OrderStatus"),
        .executableTarget(name: "RedisPublishBench", dependencies: [
            "HeraldRedis",
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "bench/redis-publish"),
        .executableTarget(name: "ClusterLatencyBench", dependencies: [
            "HeraldRedisAdapter", "SocketIO", "SocketIOProtocol", "HeraldTesting", "HeraldRedis",
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "bench/cluster-latency"),
        .executableTarget(name: "ChatStoreBench", dependencies: [
            "HeraldStore",
            .product(name: "Logging", package: "swift-log"),
        ], path: "bench/chat-store", exclude: ["run.sh"]),
        .testTarget(name: "EngineIOProtocolTests", dependencies: ["EngineIOProtocol", "HeraldPercentCoding"]),
        .testTarget(name: "SocketIOProtocolTests", dependencies: ["SocketIOProtocol", "HeraldTesting"]),
        .testTarget(name: "HeraldWebSocketTests", dependencies: [
            "HeraldWebSocket", "HeraldTesting",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "EngineIOTests", dependencies: ["EngineIO", "EngineIOProtocol", "HeraldTesting"]),
        .testTarget(name: "SocketIOTests", dependencies: [
            "SocketIO", "SocketIOProtocol", "EngineIO", "HeraldTesting",
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
        .testTarget(name: "HeraldRedisAdapterTests", dependencies: [
            "HeraldRedisAdapter", "HeraldRedis", "SocketIO", "SocketIOProtocol", "HeraldTesting",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
        .testTarget(name: "HeraldRedisTests", dependencies: [
            "HeraldRedis", "HeraldTesting",
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "SocketIOClientTests", dependencies: [
            "SocketIOClient", "SocketIO", "SocketIOProtocol", "EngineIO", "HeraldWebSocket", "HeraldTesting",
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "HeraldStoreTests", dependencies: [
            "HeraldStore", "HeraldTesting",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "HeraldBenchTests", dependencies: [
            "HeraldBench", "Herald", "SocketIO", "HeraldTesting", "HeraldRedis", "HeraldRedisAdapter",
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Test targets list every Herald module they import: an incremental build recompiles a target only when
        // a module it depends on directly changes (a changed SocketIO API left stale HeraldTests objects behind).
        .testTarget(name: "HeraldTests", dependencies: [
            "Herald", "HeraldTesting", "HeraldStore", "SocketIO", "SocketIOProtocol", "EngineIO", "HeraldRedis",
            "HeraldRedisAdapter", "HeraldWebSocket", "SocketIOClient",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)

// The fuzz targets (Fuzz/, run by scripts/fuzz.sh) exist only when HERALD_FUZZ=1: they need -sanitize=fuzzer
// to link, so the normal build must not see them. Fuzz/HeraldFuzz/Herald holds symlinks to the three Herald files
// it fuzzes (room rules, claims, publish requests; the last checks rooms with SocketIO's RoomName) instead of depending on Herald, whose jwt-kit, PostgreSQL and
// SQLite dependencies would more than double the sanitizer build.
if Context.environment["HERALD_FUZZ"] == "1" {
    package.targets.append(.target(name: "HeraldFuzzDriver", path: "Fuzz/HeraldFuzzDriver"))
    package.targets.append(.executableTarget(name: "HeraldFuzz", dependencies: [
        "HeraldFuzzDriver", "SocketIO", "SocketIOProtocol", "EngineIOProtocol", "HeraldWebSocket", "HeraldRedis",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOWebSocket", package: "swift-nio"),
    ], path: "Fuzz/HeraldFuzz"))
}
