
import pytest

from ksef_tui.domain.auth import ApiVersion, AuthMethod, RuleViolation, check_method_and_version
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.regon import InvalidRegon, normalize_regon
from ksef_tui.domain.text import search_key, sort_key


def test_environment_urls_are_official():
    assert Environment.TEST.base_url == "https://api-test.ksef.mf.gov.pl/v2"
    assert Environment.DEMO.base_url == "https://api-demo.ksef.mf.gov.pl/v2"
    assert Environment.PRODUCTION.base_url == "https://api.ksef.mf.gov.pl/v2"
    assert Environment.parse("prd") is Environment.PRODUCTION
    with pytest.raises(ValueError, match="unknown KSeF environment"):
        Environment.parse("STAGING")


def test_api_v1_is_refused_with_the_date():
    with pytest.raises(RuleViolation, match="26 Jan 2026"):
        check_method_and_version(AuthMethod.TOKEN, ApiVersion.V1)
    check_method_and_version(AuthMethod.CERTIFICATE, ApiVersion.V2)


def test_polish_search_and_sort():
    assert search_key("ŁÓDŹ Żuraw") == search_key("lodz zuraw")
    names = ["Żuraw", "Zorza", "Ąbc", "Abc", "Łąka", "Lipa", "Bielik"]
    assert sorted(names, key=sort_key) == ["Abc", "Ąbc", "Bielik", "Lipa", "Łąka", "Zorza", "Żuraw"]


def test_regon():
    assert normalize_regon("123456785") == "123456785"
    assert normalize_regon("12345678512347") == "12345678512347"
    with pytest.raises(InvalidRegon):
        normalize_regon("123456789")
    with pytest.raises(InvalidRegon):
        normalize_regon("12345")
