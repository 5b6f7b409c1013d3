// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "bpfpipe",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "BPFLoader", targets: ["BPFLoader"]),
        .executable(name: "bpfpipe", targets: ["bpfpipe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Raw syscalls Swift cannot call itself (syscall() is variadic); no logic lives here.
        .target(name: "CBPFSys"),
        .systemLibrary(
            name: "CLibelf",
            pkgConfig: "libelf",
            providers: [.apt(["libelf-dev"])]
        ),
        .target(
            name: "BPFLoader",
            dependencies: ["CBPFSys", "CLibelf"]
        ),
        .executableTarget(
            name: "bpfpipe",
            dependencies: [
                "BPFLoader",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "BPFLoaderTests",
            dependencies: ["BPFLoader", "CBPFSys"],
            exclude: ["Fixtures"]
        ),
    ]
)
