"""How many distinct people a clustering stands for, with a range from the uncertain pairs.

Kept apart from `observatoire.linkage.cluster` (which builds the persons) so that the
estimate can change without touching the clustering.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from observatoire.linkage.cluster import confidence, satellite_shares


@dataclass(frozen=True)
class PeopleEstimate:
    """How many distinct people, with a range from the uncertain pairs."""

    people: int  # expected distinct people (see `estimate_people`)
    low: int
    high: int
    records: int
    clusters: int = 0  # persons in the clustering (satellites left alone count one each)
    expected: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Per cluster label, the people it is expected to be (``people`` is their sum)."""


def _correct_unchecked(
    group_new: np.ndarray,
    anchored: np.ndarray,
    labels: np.ndarray,
    name_checked: np.ndarray,
    source: np.ndarray,
    min_checked_groups: int,
) -> None:
    """Groups whose names are all unchecked take their source's mean "new" (in place)."""
    clusters = len(group_new)
    checked = np.zeros(clusters, dtype=bool)
    checked[labels[name_checked == 1]] = True
    unchecked = np.zeros(clusters, dtype=bool)
    unchecked[labels[name_checked == 0]] = True
    unchecked &= ~checked & ~anchored
    checked &= ~anchored
    group_source = np.full(clusters, -1, dtype=np.int64)
    group_source[labels[::-1]] = np.asarray(source)[::-1]  # its first record's source
    for value in np.unique(group_source[unchecked]):
        reference = checked & (group_source == value)
        if reference.sum() < min_checked_groups:
            continue
        mine = unchecked & (group_source == value)
        group_new[mine] = np.minimum(group_new[mine], group_new[reference].mean())


def estimate_people(
    labels: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    probability: np.ndarray,
    band: tuple[float, float] = (0.2, 0.8),
    anchor: np.ndarray | None = None,
    cannot_link: tuple[np.ndarray, np.ndarray] | None = None,
    name_checked: np.ndarray | None = None,
    source: np.ndarray | None = None,
    min_checked_groups: int = 20,
    best_in: np.ndarray | None = None,
) -> PeopleEstimate:
    """Expected number of distinct people, with a range from the uncertain pairs.

    Persons with an anchor record count one each. A group of satellites that joined no
    person counts the chance that it is somebody new (`satellite_shares`: the weakest
    "new" of its records), not one: a first name met by a maraude, or a sighting on the
    count night, that resembles several known people is evidence of no new person.

    ``name_checked`` is 1 for a record whose name an anchor among its candidates carries
    (phonetic or very close), 0 for a named record whose name none carries (a nickname, a
    badly mangled name), -1 without a name. Finding nobody like an unchecked name is no
    evidence of somebody new: a group whose names are all unchecked counts, if lower, the
    mean "new" of the groups of its ``source`` with a checked name (when there are
    ``min_checked_groups`` of them). The assumption: a nickname says nothing on whether its
    bearer is known.

    The range: every uncertain link inside a person could split it (high), and persons
    joined by uncertain links could be one (low). ``best_in``: each record's best link
    inside its person, when `confidence` has already computed it.
    """
    clusters = int(labels.max(initial=-1) + 1)
    expected = float(clusters)
    weights = np.ones(clusters)
    if anchor is not None and clusters:
        anchored = np.zeros(clusters, dtype=bool)
        anchored[labels[anchor]] = True
        person_of = np.where(anchored[labels], labels, -1)
        shares = satellite_shares(person_of, anchor, i, j, probability, cannot_link)
        new = np.ones(len(labels))
        new[shares["s"].to_numpy()] = shares["new"].to_numpy()  # one value per satellite
        group_new = np.ones(clusters)
        np.minimum.at(group_new, labels, new)
        if name_checked is not None and source is not None:
            _correct_unchecked(group_new, anchored, labels, name_checked, source,
                               min_checked_groups)
        weights = np.where(anchored, 1.0, group_new)
        expected = float(weights.sum())
    uncertain = (probability >= band[0]) & (probability < band[1])
    if best_in is None:
        _, best_in = confidence(labels, i, j, probability)
    splits = int(((best_in >= band[0]) & (best_in < band[1])).sum())
    across = uncertain & (labels[i] != labels[j])
    merges = 0
    if across.any():
        a, b = labels[i[across]], labels[j[across]]
        merges = clusters - int(connected_components(
            coo_matrix((np.ones(len(a)), (a, b)), shape=(clusters, clusters)), directed=False
        )[0])
    people = int(round(expected))
    return PeopleEstimate(people, max(people - merges, 1 if people else 0), people + splits,
                          len(labels), clusters, weights)
