import Testing
@testable import BPFLoader

/// SHA-256 against FIPS 180-4's examples and sha256sum, fed whole and in uneven pieces: program
/// tags on 6.18 kernels, build-cache keys and deployment fingerprints all rest on it.
@Suite struct SHA256Tests {
    static func hex(_ pieces: [[UInt8]]) -> String {
        var h = SHA256()
        for p in pieces { h.update(p) }
        return h.hexDigest()
    }

    @Test func knownDigests() {
        #expect(Self.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex([Array("abc".utf8)]) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(Self.hex([two]) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's (sha256sum gives cdc76e5c...), in one piece and in pieces of 1, 63 and 65 bytes.
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(Self.hex([million]) == expected)
        var pieces: [[UInt8]] = [[UInt8(ascii: "a")]]
        var left = million.count - 1
        var size = 63
        while left > 0 { let n = min(size, left); pieces.append(Array(million[..<n])); left -= n; size = size == 63 ? 65 : 63 }
        #expect(Self.hex(pieces) == expected)
    }

    @Test func bytesThatAreNotContiguousHashTheSame() {
        var h = SHA256()
        h.update("abc".utf8.lazy.map { $0 })
        #expect(h.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
