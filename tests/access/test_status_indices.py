"""The permutation that places a status list's entries (``access.status_indices``)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access.status_indices import index_of, new_key


@settings(max_examples=40, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), quarter=st.integers(min_value=2, max_value=300))
def test_it_is_a_bijection_of_the_lists_indices(key, quarter):
    capacity = 4 * quarter  # lists are a multiple of 4 entries (STATUS_LIST_SIZE)
    assert sorted(index_of(key, n, capacity) for n in range(capacity)) == list(range(capacity))


def test_two_keys_place_the_same_entry_apart():
    one, other = new_key(), new_key()
    assert one != other
    first = [index_of(one, n, 65536) for n in range(16)]
    assert first != [index_of(other, n, 65536) for n in range(16)]
    assert first == [index_of(one, n, 65536) for n in range(16)]  # the same key: the same place


@pytest.mark.parametrize("n", [-1, 8])
def test_an_entry_outside_the_list_has_no_index(n):
    with pytest.raises(ValueError):
        index_of(new_key(), n, 8)
