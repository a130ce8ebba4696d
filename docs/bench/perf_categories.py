#!/usr/bin/env python3
"""Split a gateway perf profile into per-delivery cost buckets.

    perf script -i fanout.perf -F comm,tid,ip,sym > fanout.script
    docs/bench/perf_categories.py fanout.script 8.33   # µs CPU per delivery

Each sample goes to the first bucket whose pattern appears anywhere in its
call chain; the second argument scales the shares to µs per delivery.
"""
import collections
import sys

BUCKETS = [
    ("socket write: write(2) + kernel TCP (loopback: includes receiver's softirq)",
     ["net.(*netFD).Write", "internal/poll.(*FD).Write"]),
    ("context.WithTimeout + AfterFunc per frame write", ["context."]),
    ("goroutine spawn/exit per queue wake-up",
     ["runtime.newproc", "runtime.goexit0", "runtime.gfput", "runtime.gfget"]),
    ("coder/websocket framing (locks, header, bufio)", ["github.com/coder/websocket"]),
    ("hub fan-out (map walk, Queue.Push)", ["internal/hub.(*Hub)"]),
    ("writeLoop own + Queue.Take + fill copy",
     ["internal/ws.(*session).writeLoop", "internal/hub.(*Queue).Take", "internal/ws.(*session).start.func"]),
    ("Redis Pub/Sub feed (go-redis read, parse)", ["go-redis", "internal/pubsub"]),
    ("HTTP publish API + net/http", ["internal/api", "net/http"]),
    ("GC (mark, sweep, assist) and malloc",
     ["runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.bgsweep", "runtime.gcAssist", "runtime.mallocgc"]),
    ("scheduler: park, findRunnable, netpoll, wake-ups",
     ["runtime.mcall", "runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.netpoll"]),
    ("sysmon", ["runtime.sysmon"]),
]
WRITE_PARTS = [
    ("loopback receive side (tcp_v4_rcv, waking the reader)",
     ["tcp_v4_rcv", "ip_rcv", "__netif_receive_skb", "process_backlog", "net_rx_action"]),
    ("TCP send side", ["tcp_sendmsg", "tcp_write_xmit", "__tcp_transmit_skb", "ip_queue_xmit", "tcp_push"]),
    ("syscall entry/exit, fd lookup, vfs", ["entry_SYSCALL", "do_syscall"]),
]


def stacks(path):
    st = []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            if st:
                yield st
            st = []
        elif line[0] in " \t":
            parts = line.strip().split(None, 1)
            st.append(parts[-1])
    if st:
        yield st


def first(st, buckets, default):
    for name, pats in buckets:
        if any(p in f for f in st for p in pats):
            return name
    return default


def main():
    per = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    total, counts, writes = 0, collections.Counter(), collections.Counter()
    for st in stacks(sys.argv[1]):
        total += 1
        b = first(st, BUCKETS, "other")
        counts[b] += 1
        if b == BUCKETS[0][0]:
            writes[first(st, WRITE_PARTS, "Go net/poll wrappers")] += 1
    print(f"samples {total}")
    for name in [b[0] for b in BUCKETS] + ["other"]:
        print(f"{100 * counts[name] / total:5.1f}%  {per * counts[name] / total:5.2f} µs  {name}")
    print("socket write, split:")
    for name, c in writes.most_common():
        print(f"  {100 * c / total:5.1f}%  {per * c / total:5.2f} µs  {name}")


if __name__ == "__main__":
    main()
