// swift-tools-version:6.0
import PackageDescription

// A package outside Herald that uses its library products as a user's package would (by path here, by URL and
// version elsewhere). scripts/test.sh builds and runs it, so a product or re-export that stops working fails the
// test command.
let package = Package(
    name: "EmbeddingHerald",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "herald", path: "../.."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(name: "EmbeddingHerald", dependencies: [
            .product(name: "SocketIO", package: "herald"),
            .product(name: "SocketIOClient", package: "herald"),
            .product(name: "Herald", package: "herald"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
