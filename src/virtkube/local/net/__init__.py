"""The local cluster's pod network on this machine: one bridge, its nftables table, the
nodes' CNI config and the names of all three (nothing routes off the machine)."""
