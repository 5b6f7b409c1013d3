import CBPFSys

/// Facts about map types the loader needs when creating and filling maps.
public enum MapTypes {
    public static func isPerCPU(_ t: UInt32) -> Bool {
        [BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_PERCPU_HASH,
         BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE].map(\.rawValue).contains(t)
    }

    public static func isMapInMap(_ t: UInt32) -> Bool {
        t == BPF_MAP_TYPE_ARRAY_OF_MAPS.rawValue || t == BPF_MAP_TYPE_HASH_OF_MAPS.rawValue
    }

    public static func isProgramArray(_ t: UInt32) -> Bool { t == BPF_MAP_TYPE_PROG_ARRAY.rawValue }

    public static func name(_ t: UInt32) -> String {
        let names = ["unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array",
                     "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
                     "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
                     "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
                     "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter", "user_ringbuf",
                     "cgrp_storage", "arena"]
        return Int(t) < names.count ? names[Int(t)] : "type \(t)"
    }
}

enum CPUs {
    /// Number of possible CPUs, from `/sys/devices/system/cpu/possible` ("0-3" or "0,2-5").
    static let possible: Int = {
        guard let bytes = try? FileBytes.read(path: "/sys/devices/system/cpu/possible", step: .relocate) else { return 1 }
        let text = String(decoding: bytes.filter { $0 > 0x20 }, as: UTF8.self)
        var highest = 0
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if let last = bounds.last { highest = max(highest, last) }
        }
        return highest + 1
    }()
}
