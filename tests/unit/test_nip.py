import pytest
from hypothesis import given
from hypothesis import strategies as st

from ksef_tui.domain.nip import InvalidNip, format_nip, is_valid_nip, make_nip, normalize_nip


@pytest.mark.parametrize("raw", ["5265877635", "526-587-76-35", "526 587 76 35", "PL5265877635", "pl 526-587-76-35", " 5265877635\n"])
def test_accepted_forms_store_ten_digits(raw):
    assert normalize_nip(raw) == "5265877635"


@pytest.mark.parametrize("nip", ["5265877635", "7762811692", "3755747347", "1111111111", "9999999999"])
def test_known_valid(nip):
    assert is_valid_nip(nip)


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("1234567890", "checksum"),
        ("8976111986", "checksum"),
        ("52658776X5", "letters"),
        ("526587763", "length"),
        ("52658776351", "length"),
        ("0265877635", "pattern"),
        ("1005877635", "pattern"),
        ("", "empty"),
    ],
)
def test_refused_with_reason(raw, reason):
    with pytest.raises(InvalidNip) as e:
        normalize_nip(raw)
    assert e.value.reason == reason
    assert e.value.value == raw


def _reference(nip: str) -> bool:  # PROTOCOL.md §11, verbatim rule
    import re

    if not re.fullmatch(r"[1-9]((\d[1-9])|([1-9]\d))\d{7}", nip):
        return False
    s = sum(int(c) * w for c, w in zip(nip[:9], (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    return s != 10 and s == int(nip[9])


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_matches_reference_rule(digits):
    assert is_valid_nip(digits) == _reference(digits)


@given(st.text(alphabet="123456789", min_size=1, max_size=1), st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_make_nip_is_valid_and_separators_do_not_matter(first, rest):
    nip = make_nip(first + rest)
    if nip is None:
        return
    assert is_valid_nip(nip)
    assert normalize_nip(format_nip(nip)) == nip
    assert normalize_nip("PL" + " ".join(nip)) == nip


@given(st.text(alphabet="0123456789", min_size=10, max_size=10), st.integers(0, 9), st.integers(1, 9))
def test_single_digit_change_breaks_a_valid_nip(digits, pos, delta):
    if not is_valid_nip(digits):
        return
    changed = digits[:pos] + str((int(digits[pos]) + delta) % 10) + digits[pos + 1:]
    # weights 6,5,7,2,3,4,5,6,7 are all coprime with 11, so one changed digit always breaks the checksum
    assert not is_valid_nip(changed)
