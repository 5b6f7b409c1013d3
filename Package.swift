// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "bpfpipe",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "BPFLoader", targets: ["BPFLoader"]),
        .library(name: "BPFPipeline", targets: ["BPFPipeline"]),
        .executable(name: "bpfpipe", targets: ["bpfpipe"]),
        // Example preprocessor plugins: `swift build` puts lib<name>.so beside bpfpipe.
        .library(name: "argprologue", type: .dynamic, targets: ["ArgProloguePlugin"]),
        .library(name: "instancetag", type: .dynamic, targets: ["InstanceTagPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // Raw syscalls Swift cannot call itself (syscall() is variadic); no logic lives here.
        .target(name: "CBPFSys"),
        .systemLibrary(
            name: "CLibelf",
            pkgConfig: "libelf",
            providers: [.apt(["libelf-dev"])]
        ),
        // /proc/config.gz, for .kconfig externs.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // The public plugin contract: include/bpfpipe/plugin.h and nothing else.
        .target(name: "BPFPipePluginABI"),
        .target(name: "ArgProloguePlugin", dependencies: ["BPFPipePluginABI"], path: "Plugins/argprologue"),
        .target(name: "InstanceTagPlugin", dependencies: ["BPFPipePluginABI"], path: "Plugins/instancetag"),
        .target(
            name: "BPFLoader",
            dependencies: ["CBPFSys", "CLibelf", "CZlib"]
        ),
        .target(
            name: "BPFPipeline",
            dependencies: [
                "BPFLoader", "CBPFSys", "CYAML", "BPFPipePluginABI",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "bpfpipe",
            dependencies: [
                "BPFLoader", "BPFPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Benchmark P4 only (benchmarks/run): times the BTF parser; not part of the CLI.
        .executableTarget(name: "btf-bench", dependencies: ["BPFLoader"], path: "benchmarks/BTFBench"),
        // Kernel gating, the descriptor lock and pin folders, shared by the test suites.
        .target(name: "BPFTestSupport", dependencies: ["BPFLoader"], path: "Tests/BPFTestSupport"),
        .testTarget(
            name: "BPFLoaderTests",
            // bpfpipe is a dependency so the CLI tests find the built binary beside the test bundle.
            dependencies: ["BPFLoader", "CBPFSys", "bpfpipe", "BPFTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "BPFPipelineTests",
            dependencies: [
                "BPFPipeline", "BPFLoader", "bpfpipe", "BPFTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            exclude: ["Pipelines", "Plugins"]
        ),
    ]
)
