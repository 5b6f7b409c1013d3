// swift-tools-version:6.0
// A libFuzzer target over the loader's parsers, kept out of the main package so its build is
// untouched. Build and run it through `scripts/fuzz`, which passes -sanitize=fuzzer,address.
import PackageDescription

let package = Package(
    name: "bpfpipe-fuzz",
    dependencies: [
        .package(name: "bpfpipe", path: ".."),
    ],
    targets: [
        // Declares LLVMFuzzerRunDriver, which main.swift calls (see there for why).
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(
            name: "FuzzObjectOpen",
            dependencies: ["CLibFuzzer", .product(name: "BPFLoader", package: "bpfpipe")]
        ),
    ]
)
