"""What every other package builds on (below `cni/`, `config/` and the commands): reading
untrusted text into plain data, the base model, and problems as `<key path>: <message>` lines."""
