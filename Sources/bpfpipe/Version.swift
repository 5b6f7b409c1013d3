/// What `bpfpipe --version` prints.
let bpfpipeVersion = "0.10.0"
