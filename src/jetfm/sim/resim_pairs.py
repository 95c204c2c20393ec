"""Re-simulation positive pairs (`jetfm generate --resim R`): which jets of the R replicas of
one parton-level event are *the same jet*.

Two jets form a clean pair when they are
- in two different replica events of one parton-level event (same hard process and shower),
- nearest to the same hard parton (status ±23),
- ΔR < DR_MAX = 0.4 apart (reco jet axes, Δφ wrapped into [−π, π)),
- within a pT ratio of PT_RATIO_MAX = 1.5 either way (pT_a / pT_b in [1/1.5, 1.5]).

A group holds at most one jet per replica and every two of its jets are a clean pair, so with
R replicas a group has 1..R jets. Groups are built greedily: candidate pairs by increasing ΔR,
two groups merge only if they share no replica and every cross pair is clean; a jet therefore
pairs with its closest qualifying partner first.

`resim_group` ids (int64, ≥ 0): each jet has a key `event_id * JET_SLOTS + k`, k its index
within its event (jets of an event in pT order); a group takes the smallest key of its jets
(its jet in the earliest replica). Each key names at most one group and `event_id` is unique
within a run (file, chunk and event strides in `chunk.py`, while a chunk holds fewer than
CHUNK_STRIDE events, replicas included), so ids are unique across chunks and files, and a jet
without a clean partner has an id no other jet shares: it is never paired.
Jets beyond the JET_SLOTS-th of an event (only with a very low --jet-pt-min) get −1 and are
not paired.
"""
from __future__ import annotations

import numpy as np

DR_MAX = 0.4
PT_RATIO_MAX = 1.5
JET_SLOTS = 64          # jets per event with an id; event_id * 64 stays far inside int64


def delta_r(eta_a, phi_a, eta_b, phi_b) -> np.ndarray:
    """ΔR with Δφ wrapped into [−π, π)."""
    dphi = (np.asarray(phi_a) - phi_b + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta_a) - eta_b, dphi)


def block_pairs(key) -> tuple[np.ndarray, np.ndarray]:
    """Every index pair (i, j) of entries with equal `key`, i before j in stable key order,
    vectorised (blocks are small: k entries give k(k−1)/2 pairs)."""
    key = np.asarray(key).reshape(-1)
    n = len(key)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, n])
    after = np.repeat(starts + sizes, sizes) - np.arange(n) - 1   # later entries of the block
    first = np.repeat(np.arange(n), after)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(after) - after, after)
    return order[first], order[first + 1 + offset]


def candidate_pairs(shower, replica, parton, eta, phi, pt, *, dr_max: float = DR_MAX,
                    pt_ratio_max: float = PT_RATIO_MAX):
    """(i, j, ΔR) of every clean pair (module doc), i < j."""
    shower, replica, parton = (np.asarray(a, np.int64) for a in (shower, replica, parton))
    eta, phi, pt = (np.asarray(a, np.float64) for a in (eta, phi, pt))
    # one block per (shower, parton)
    block = np.unique(np.stack([shower, parton], axis=1), axis=0, return_inverse=True)[1]
    i, j = block_pairs(block)
    i, j = np.minimum(i, j), np.maximum(i, j)
    dr = delta_r(eta[i], phi[i], eta[j], phi[j])
    hi, lo = np.maximum(pt[i], pt[j]), np.minimum(pt[i], pt[j])
    ok = (replica[i] != replica[j]) & (dr < dr_max) & (hi <= pt_ratio_max * lo) & (lo > 0)
    return i[ok], j[ok], dr[ok]


def match_replicas(shower, replica, parton, eta, phi, pt, *, dr_max: float = DR_MAX,
                   pt_ratio_max: float = PT_RATIO_MAX) -> np.ndarray:
    """anchor[i] = the smallest jet index of jet i's group (i itself when it is unpaired).

    Per jet: `shower` the parton-level event, `replica` its (replica) event, `parton` the
    index of its nearest hard parton, and its reco axis and pT. Groups as in the module doc.
    """
    i, j, dr = candidate_pairs(shower, replica, parton, eta, phi, pt, dr_max=dr_max,
                               pt_ratio_max=pt_ratio_max)
    n = len(np.asarray(pt))
    anchor = np.arange(n)
    if not len(i):
        return anchor
    replica = np.asarray(replica, np.int64)
    clean = set(zip(i.tolist(), j.tolist()))
    members = {}                                        # anchor -> its jets
    for _, a, b in sorted(zip(dr.tolist(), i.tolist(), j.tolist())):
        ra, rb = int(anchor[a]), int(anchor[b])
        if ra == rb:
            continue
        ga, gb = members.get(ra, [ra]), members.get(rb, [rb])
        if set(replica[ga].tolist()) & set(replica[gb].tolist()):
            continue                                    # one jet per replica per group
        if not all((min(x, y), max(x, y)) in clean for x in ga for y in gb):
            continue                                    # every two jets of a group are clean
        merged = sorted(ga + gb)
        members.pop(ra, None)
        members.pop(rb, None)
        members[merged[0]] = merged
        anchor[merged] = merged[0]
    return anchor


def jet_keys(event_id) -> np.ndarray:
    """event_id * JET_SLOTS + index of the jet within its event (−1 beyond JET_SLOTS)."""
    event_id = np.asarray(event_id, np.int64)
    order = np.argsort(event_id, kind="stable")
    e = event_id[order]
    starts = np.flatnonzero(np.r_[True, e[1:] != e[:-1]]) if len(e) else np.zeros(0, np.int64)
    k = np.empty(len(e), np.int64)
    k[order] = np.arange(len(e)) - np.repeat(starts, np.diff(np.r_[starts, len(e)]))
    return np.where(k < JET_SLOTS, event_id * JET_SLOTS + k, -1)


def resim_groups(event_id, shower, parton, eta, phi, pt) -> np.ndarray:
    """`resim_group` per jet (module doc); `event_id` is also the replica identity."""
    keys = jet_keys(event_id)
    idx = np.flatnonzero(keys >= 0)
    anchor = match_replicas(*(np.asarray(a)[idx] for a in (shower, event_id, parton, eta,
                                                           phi, pt)))
    smallest = keys[idx].copy()                 # per anchor: the smallest key of its group
    np.minimum.at(smallest, anchor, keys[idx])
    out = np.full(len(keys), -1, np.int64)
    out[idx] = smallest[anchor]
    return out


__all__ = ["DR_MAX", "PT_RATIO_MAX", "JET_SLOTS", "delta_r", "block_pairs", "candidate_pairs",
           "match_replicas", "jet_keys", "resim_groups"]
