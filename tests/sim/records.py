"""Hand-built Pythia-like event records for the truth tests."""
import numpy as np


class Record:
    """A tiny Pythia-style event record: row 0 is the system, mothers/daughters kept consistent."""

    def __init__(self):
        self.rows = [dict(id=90, status=-11, m1=0, m2=0, d1=0, d2=0, pt=0.0, eta=0.0, phi=0.0, m=0.0)]

    def add(self, pid, status, pt, eta, phi, m=0.0, mother=0):
        self.rows.append(dict(id=pid, status=status, m1=mother, m2=0, d1=0, d2=0,
                              pt=pt, eta=eta, phi=phi, m=m))
        return len(self.rows) - 1

    def copy(self, i, status=-44, **kin):
        """Recoil copy of particle i (same id), as Pythia's showers make."""
        r = dict(self.rows[i], status=status, m1=i, m2=i, d1=0, d2=0, **kin)
        self.rows.append(r)
        j = len(self.rows) - 1
        self.rows[i].update(d1=j, d2=j)
        return j

    def decay(self, parent, *children, status=-23):
        """children: (pid, pt, eta, phi[, m]); stored consecutively, daughter range on parent."""
        idx = [self.add(c[0], status, *c[1:], mother=parent) for c in children]
        self.rows[parent].update(d1=idx[0], d2=idx[-1])
        return idx

    def numpy(self):
        col = lambda k, t: np.array([r[k] for r in self.rows], dtype=t)
        pt, eta, phi, m = (col(k, float) for k in ("pt", "eta", "phi", "m"))
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        return dict(id=col("id", np.int32), status=col("status", np.int32),
                    mother1=col("m1", np.int32), mother2=col("m2", np.int32),
                    daughter1=col("d1", np.int32), daughter2=col("d2", np.int32),
                    px=px, py=py, pz=pz, e=np.sqrt(px**2 + py**2 + pz**2 + m**2), m=m)
