// swift-tools-version: 6.0
// The fuzz targets, kept out of the main package: built only by `scripts/fuzz`, with
// `-sanitize=fuzzer,address`, where libFuzzer supplies `main`.
import PackageDescription

let package = Package(
    name: "wabox-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "wabox", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "FuzzWebhookDecoder",
            dependencies: ["CFuzzDriver", .product(name: "InboxCore", package: "wabox")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzTerminalText",
            dependencies: ["CFuzzDriver", .product(name: "InboxCore", package: "wabox")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
