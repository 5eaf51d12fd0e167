// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "wabox",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wabox", targets: ["wabox"]),
        .executable(name: "wabox-screen-bench", targets: ["ScreenBench"]),
        .executable(name: "wabox-feed-bench", targets: ["FeedBench"]),
        // For the fuzz targets in Fuzz/, a package of their own built with libFuzzer.
        .library(name: "InboxCore", targets: ["InboxCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
    ],
    targets: [
        // The version and the commit `wabox --version` prints (the commit written by the plugin).
        .target(name: "BuildInfo", plugins: ["BuildCommit"]),
        .plugin(name: "BuildCommit", capability: .buildTool()),
        .target(
            name: "InboxCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // What every store promises, whatever the engine: the protocols both backends conform
        // to and the types they share. No engine is imported here.
        .target(name: "StoreContract", dependencies: ["InboxCore"]),
        .target(
            name: "InboxStore",
            dependencies: ["InboxCore", "StoreContract", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        // The store on PostgreSQL (issue 19): postgres-nio's PostgresClient, its pool, bound statements.
        .target(
            name: "PostgresStore",
            dependencies: ["InboxCore", "StoreContract", .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "WebhookServer",
            dependencies: [
                "InboxCore", "InboxStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "CloudAPI",
            dependencies: [
                "InboxCore", "StoreContract", "InboxStore", "MediaPreview",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Simulator",
            dependencies: [
                "InboxCore", "CloudAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Inline previews of photos and stickers: libchafa (symbols mode) through CImaging, the
        // decoders (libjpeg, libpng, libwebp) in C in CImageCodecs, a Swift value out.
        .systemLibrary(name: "CImaging", pkgConfig: "chafa",
                       providers: [.apt(["libchafa-dev", "libglib2.0-dev", "pkg-config"])]),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp"),
                             .linkedLibrary("webpdemux")]
        ),
        .target(name: "MediaPreview", dependencies: ["InboxCore", "CImaging", "CImageCodecs"]),
        .target(
            name: "InboxTUI",
            dependencies: ["InboxCore", "InboxStore", "MediaPreview", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        .target(
            name: "InboxServices",
            dependencies: [
                "InboxCore", "InboxStore", "PostgresStore", "WebhookServer", "CloudAPI", "InboxTUI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                // The one place that knows the backend: it bootstraps swift-metrics with it and
                // renders the registry for GET /metrics. Other modules use the Metrics API only.
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .systemLibrary(name: "CNcurses"),
        .target(name: "CursesBackend", dependencies: ["InboxTUI", "CNcurses"]),
        .executableTarget(name: "ScreenBench", dependencies: ["InboxCore", "InboxStore", "InboxTUI", "MediaPreview"]),
        .executableTarget(name: "FeedBench", dependencies: [
            "InboxCore", "StoreContract", "PostgresStore", .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
        ]),
        .target(
            name: "InboxTesting",
            dependencies: ["InboxCore", "InboxStore", .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("Fixtures")]
        ),
        .executableTarget(
            name: "wabox",
            dependencies: [
                "InboxCore", "InboxStore", "WebhookServer", "CloudAPI", "Simulator", "InboxTUI", "CursesBackend",
                "InboxServices", "BuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .testTarget(name: "InboxCoreTests", dependencies: ["InboxCore", "InboxTesting"]),
        .testTarget(name: "InboxStoreTests", dependencies: ["InboxCore", "InboxStore", "InboxTesting", "Simulator"]),
        .testTarget(
            name: "WebhookServerTests",
            dependencies: [
                "WebhookServer", "InboxTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "InboxTUITests", dependencies: ["InboxTUI", "InboxTesting", "MediaPreview", "Simulator"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "MediaPreviewTests", dependencies: ["MediaPreview", "Simulator", "InboxTesting"]),
        .testTarget(name: "CursesBackendTests", dependencies: ["CursesBackend"]),
        .testTarget(
            name: "CloudAPITests",
            dependencies: [
                "CloudAPI", "Simulator", "WebhookServer", "InboxTesting", "MediaPreview",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "InboxServicesTests",
            dependencies: ["InboxServices", "Simulator", "InboxTesting",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .testTarget(name: "PostgresStoreTests",
                    dependencies: ["PostgresStore", "StoreContract", "InboxTesting",
                                   .product(name: "PostgresNIO", package: "postgres-nio"),
                                   .product(name: "Logging", package: "swift-log")]),
        // The same store tests run against every backend: a real SQLite file and a real PostgreSQL.
        .testTarget(name: "StoreConformanceTests",
                    dependencies: ["StoreContract", "InboxStore", "PostgresStore", "InboxTesting",
                                   .product(name: "PostgresNIO", package: "postgres-nio"),
                                   .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EndToEndTests", dependencies: ["InboxTesting", "Simulator", "wabox", "BuildInfo", "InboxTUI", "InboxServices",
                                                          "PostgresStore", .product(name: "Logging", package: "swift-log"),
                                                          .product(name: "PostgresNIO", package: "postgres-nio"),
                                                          .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                          .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
