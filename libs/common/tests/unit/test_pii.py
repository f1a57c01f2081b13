"""Personal data (DESIGN §4): identifier validation, masking, encryption, keyed hash, log scrubbing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import date, timedelta

import pytest
import structlog
from stdnum.cn import ric, uscc

from jointcredit_common.pii import (
    InvalidIdentifier,
    PiiCipher,
    PiiDecryptionError,
    PiiHasher,
    PiiKeyError,
    generate_key,
    mask_name,
    mask_resident_id,
    normalize_resident_id,
    normalize_subject_id,
    normalize_uscc,
    scrub,
    scrub_processor,
)

TODAY = date(2025, 6, 30)


def resident_id(first17: str) -> str:
    """A resident ID number with a correct GB 11643 check character (computed by stdnum)."""
    return first17 + ric.calc_check_digit(first17 + "0")


def credit_code(first17: str) -> str:
    """A USCC with a correct GB 32100 check character (computed by stdnum)."""
    return first17 + uscc.calc_check_digit(first17)


def wrong_check_char(number: str, alphabet: str) -> str:
    return number[:-1] + next(c for c in alphabet if c != number[-1])


def reason_of(excinfo: pytest.ExceptionInfo[InvalidIdentifier]) -> str:
    return excinfo.value.reason


# --- enterprise codes (GB 32100) --------------------------------------------------------------


def test_published_enterprise_credit_code_is_accepted() -> None:
    assert normalize_uscc("91110000600037341L") == "91110000600037341L"


def test_enterprise_credit_code_is_normalised_from_lowercase_spaces_and_hyphens() -> None:
    assert normalize_uscc(" 9111 0000-6000 3734 1l ") == "91110000600037341L"


def test_enterprise_credit_code_typed_in_full_width_is_normalised() -> None:
    assert normalize_uscc("９１１１００００６０００３７３４１Ｌ") == "91110000600037341L"


@pytest.mark.parametrize(
    "first17",
    ["91210200MA0QC1234", "52210202MJ0000001", "12210200000000001", "93210213MA10000AB"],
)
def test_generated_enterprise_credit_codes_with_correct_check_character_are_accepted(first17: str) -> None:
    code = credit_code(first17)
    assert normalize_uscc(code) == code


@pytest.mark.parametrize("first17", ["N2210202MA0000001", "Y1210202MA0000001", "A1110000000000001"])
def test_credit_codes_from_letter_authorities_are_accepted(first17: str) -> None:
    # GB 32100 authorities N (农业), Y (其他), A (军队编制) — stdnum's own validate() rejects these.
    code = credit_code(first17)
    assert not uscc.is_valid(code)
    assert normalize_uscc(code) == code


def test_enterprise_credit_code_with_bad_check_character_is_rejected() -> None:
    bad = wrong_check_char("91110000600037341L", "0123456789ABCDEFGHJKLMNPQRTUWXY")
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_uscc(bad)
    assert (excinfo.value.kind, excinfo.value.reason) == ("uscc", "bad checksum")


def test_enterprise_credit_code_with_a_swapped_digit_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="bad checksum"):
        normalize_uscc("91110000060037341L")


@pytest.mark.parametrize("value", ["91110000600037341", "91110000600037341LL", "", "12345"])
def test_enterprise_credit_code_of_wrong_length_is_rejected(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_uscc(value)
    assert reason_of(excinfo) == "bad length"


@pytest.mark.parametrize(
    "value",
    [
        credit_code("B1110000600037341"),  # no registering authority B (check character correct)
        credit_code("01110000600037341"),  # nor 0
        credit_code("911100A0600037341"),  # region code must be digits
        "91110000600O37341L",  # O is not in the GB 32100 alphabet
        "91110000600037341I",  # nor is I
    ],
)
def test_enterprise_credit_code_with_bad_characters_is_rejected(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_uscc(value)
    assert reason_of(excinfo) == "bad format"


def test_non_string_identifier_is_rejected_as_bad_format() -> None:
    with pytest.raises(InvalidIdentifier, match="bad format"):
        normalize_uscc(91110000600037341)  # type: ignore[arg-type]


# --- citizen ID numbers (GB 11643) ------------------------------------------------------------


def test_standard_example_citizen_id_is_accepted() -> None:
    assert normalize_resident_id("11010519491231002X", today=TODAY) == "11010519491231002X"


def test_citizen_id_with_lowercase_x_is_normalised_to_uppercase() -> None:
    assert normalize_resident_id("11010519491231002x", today=TODAY) == "11010519491231002X"


def test_citizen_id_with_spaces_and_hyphens_is_normalised() -> None:
    assert normalize_resident_id("210102-19900307-1233", today=TODAY) == "210102199003071233"
    assert normalize_resident_id(" 210102 1990 0307 1233\t", today=TODAY) == "210102199003071233"


def test_citizen_id_with_bad_check_character_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_resident_id("210102199003071234", today=TODAY)
    assert (excinfo.value.kind, excinfo.value.reason) == ("resident_id", "bad checksum")


def test_citizen_id_with_birth_date_in_the_future_is_rejected() -> None:
    tomorrow = TODAY + timedelta(days=1)
    number = resident_id(f"210102{tomorrow:%Y%m%d}123")
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_resident_id(number, today=TODAY)
    assert reason_of(excinfo) == "birth date in the future"


def test_citizen_born_today_is_accepted() -> None:
    number = resident_id(f"210102{TODAY:%Y%m%d}123")
    assert normalize_resident_id(number, today=TODAY) == number


def test_citizen_id_future_check_uses_the_real_date_by_default() -> None:
    with pytest.raises(InvalidIdentifier, match="birth date in the future"):
        normalize_resident_id(resident_id(f"210102{date.today().year + 1}0101123"))


def test_citizen_id_with_birth_date_in_1899_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_resident_id(resident_id("21010218991231123"), today=TODAY)
    assert reason_of(excinfo) == "implausible birth date (before 1900)"


def test_citizen_born_on_first_of_january_1900_is_accepted() -> None:
    number = resident_id("21010219000101123")
    assert normalize_resident_id(number, today=TODAY) == number


def test_citizen_id_with_nonexistent_birth_date_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="bad birth date"):
        normalize_resident_id(resident_id("21010219900230123"), today=TODAY)


def test_citizen_id_with_unknown_province_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="unknown region code"):
        normalize_resident_id(resident_id("99010219900307123"), today=TODAY)


def test_citizen_id_from_a_county_renamed_after_birth_is_accepted() -> None:
    # 110112 (通州区) dates from 1997; stdnum's county table would reject someone born in 1980.
    number = resident_id("11011219800101123")
    assert not ric.is_valid(number)
    assert normalize_resident_id(number, today=TODAY) == number


@pytest.mark.parametrize("value", ["21010219900307123", "2101021990030712331", "210102900307123"])
def test_citizen_id_of_wrong_length_is_rejected(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_resident_id(value, today=TODAY)
    assert reason_of(excinfo) == "bad length"


@pytest.mark.parametrize("value", ["2101021990030712A3", "21010219900307123Y"])
def test_citizen_id_with_letters_is_rejected_as_bad_format(value: str) -> None:
    with pytest.raises(InvalidIdentifier, match="bad format"):
        normalize_resident_id(value, today=TODAY)


def test_invalid_identifier_is_a_value_error_and_does_not_echo_the_number() -> None:
    with pytest.raises(ValueError) as excinfo:
        normalize_resident_id("210102199003071234", today=TODAY)
    assert isinstance(excinfo.value, InvalidIdentifier)
    assert "210102199003071234" not in str(excinfo.value)
    assert str(excinfo.value) == "invalid resident_id: bad checksum"


def test_subject_id_dispatches_on_subject_type() -> None:
    assert normalize_subject_id("enterprise", "91110000600037341l") == "91110000600037341L"
    assert normalize_subject_id("citizen", "11010519491231002x") == "11010519491231002X"
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_subject_id("enterprise", "11010519491231002X")
    assert excinfo.value.kind == "uscc"
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_subject_id("citizen", "91110000600037341L")
    assert excinfo.value.kind == "resident_id"
    with pytest.raises(InvalidIdentifier, match="unknown subject type"):
        normalize_subject_id("agency", "91110000600037341L")  # type: ignore[arg-type]


# --- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧**娜"),
        ("诸葛孔明亮", "诸***亮"),
        ("王", "*"),
        (" 李四 ", "李*"),
        ("", ""),
        ("阿沛·阿旺晋美", "阿*·阿***"),
        ("John Smith", "J*** S****"),
        ("Jean-Luc Picard", "J***-L** P*****"),
        ("Madonna", "M*****a"),
    ],
)
def test_person_names_are_masked_for_public_output(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("210102199003071234", "2101**********1234"),
        ("11010519491231002x", "1101**********002X"),
        ("210102900307123", "2101*******7123"),  # old 15-digit number
        ("12345", "*****"),
    ],
)
def test_citizen_id_numbers_keep_only_first_and_last_four(value: str, masked: str) -> None:
    assert mask_resident_id(value) == masked


# --- encryption -------------------------------------------------------------------------------

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
HASH_KEY = bytes(range(64, 96))
TOKEN = re.compile(r"v1:([A-Za-z0-9_.\-]+):([A-Za-z0-9_\-]+)")


def test_encrypted_citizen_id_round_trips() -> None:
    cipher = PiiCipher({"k1": KEY_A}, "k1")
    for plaintext in ["11010519491231002X", "张三丰", ""]:
        token = cipher.encrypt(plaintext, context="subject.id_number")
        assert plaintext == "" or plaintext not in token
        assert cipher.decrypt(token, context="subject.id_number") == plaintext


def test_token_names_the_key_and_carries_nonce_and_tag() -> None:
    token = PiiCipher({"k1": KEY_A}, "k1").encrypt("11010519491231002X")
    match = TOKEN.fullmatch(token)
    assert match is not None and match.group(1) == "k1"
    blob = base64.urlsafe_b64decode(match.group(2) + "=" * (-len(match.group(2)) % 4))
    assert len(blob) == 12 + len("11010519491231002X") + 16


def test_encrypting_the_same_value_twice_gives_different_tokens() -> None:
    cipher = PiiCipher({"k1": KEY_A}, "k1")
    tokens = {cipher.encrypt("11010519491231002X") for _ in range(20)}
    assert len(tokens) == 20


def test_token_moved_to_another_field_does_not_decrypt() -> None:
    cipher = PiiCipher({"k1": KEY_A}, "k1")
    token = cipher.encrypt("11010519491231002X", context="subject.id_number")
    with pytest.raises(PiiDecryptionError):
        cipher.decrypt(token, context="repair_application.applicant_id_number")
    with pytest.raises(PiiDecryptionError):
        cipher.decrypt(token)


def test_tampered_token_does_not_decrypt() -> None:
    cipher = PiiCipher({"k1": KEY_A}, "k1")
    token = cipher.encrypt("11010519491231002X")
    prefix, payload = token.rsplit(":", 1)
    blob = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for index in (0, 12, len(blob) - 1):  # nonce, ciphertext, tag
        flipped = bytearray(blob)
        flipped[index] ^= 0x01
        tampered = prefix + ":" + base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        with pytest.raises(PiiDecryptionError):
            cipher.decrypt(tampered)


@pytest.mark.parametrize(
    "token", ["", "garbage", "v2:k1:AAAA", "v1:k1", "v1:k1:!!!", "v1:k1:AAAA", "v1:k1:a:b"]
)
def test_malformed_tokens_raise_decryption_error(token: str) -> None:
    with pytest.raises(PiiDecryptionError):
        PiiCipher({"k1": KEY_A}, "k1").decrypt(token)


def test_token_relabelled_with_another_key_id_does_not_decrypt() -> None:
    cipher = PiiCipher({"k1": KEY_A, "k2": KEY_B}, "k1")
    token = cipher.encrypt("11010519491231002X")
    with pytest.raises(PiiDecryptionError):
        cipher.decrypt(token.replace("v1:k1:", "v1:k2:"))


def test_token_from_a_removed_key_raises_decryption_error() -> None:
    token = PiiCipher({"k1": KEY_A}, "k1").encrypt("11010519491231002X")
    with pytest.raises(PiiDecryptionError, match="unknown key id"):
        PiiCipher({"k2": KEY_B}, "k2").decrypt(token)


def test_old_tokens_still_decrypt_after_a_new_key_becomes_active() -> None:
    old_token = PiiCipher({"k1": KEY_A}, "k1").encrypt("11010519491231002X", context="c")
    rotated_ring = PiiCipher({"k1": KEY_A, "k2": KEY_B}, "k2")
    assert rotated_ring.decrypt(old_token, context="c") == "11010519491231002X"
    assert rotated_ring.needs_rotation(old_token)
    assert TOKEN.fullmatch(rotated_ring.encrypt("x")).group(1) == "k2"  # type: ignore[union-attr]


def test_rotate_re_encrypts_under_the_active_key() -> None:
    old_token = PiiCipher({"k1": KEY_A}, "k1").encrypt("11010519491231002X", context="c")
    cipher = PiiCipher({"k1": KEY_A, "k2": KEY_B}, "k2")
    new_token = cipher.rotate(old_token, "c")
    assert new_token.startswith("v1:k2:")
    assert not cipher.needs_rotation(new_token)
    assert cipher.rotate(new_token, "c") == new_token  # idempotent for a background job
    # once the old key is removed, the rotated token still decrypts
    assert PiiCipher({"k2": KEY_B}, "k2").decrypt(new_token, context="c") == "11010519491231002X"


def test_rotate_refuses_a_token_with_the_wrong_context() -> None:
    cipher = PiiCipher({"k1": KEY_A, "k2": KEY_B}, "k2")
    old_token = PiiCipher({"k1": KEY_A}, "k1").encrypt("11010519491231002X", context="c")
    with pytest.raises(PiiDecryptionError):
        cipher.rotate(old_token, "other")


def test_cipher_from_settings_accepts_base64_keys() -> None:
    settings = {
        "2025-01": base64.b64encode(KEY_A).decode(),
        "2025-07": base64.urlsafe_b64encode(KEY_B).decode().rstrip("="),
    }
    cipher = PiiCipher.from_settings(settings, "2025-07")
    direct = PiiCipher({"2025-01": KEY_A, "2025-07": KEY_B}, "2025-07")
    assert direct.decrypt(cipher.encrypt("张三", context="c"), context="c") == "张三"
    assert cipher.key_ids == {"2025-01", "2025-07"}


@pytest.mark.parametrize(
    "encoded", [base64.b64encode(bytes(16)).decode(), base64.b64encode(bytes(33)).decode(), "not base64!"]
)
def test_cipher_from_settings_rejects_keys_that_are_not_32_bytes(encoded: str) -> None:
    with pytest.raises(PiiKeyError):
        PiiCipher.from_settings({"k1": encoded}, "k1")


@pytest.mark.parametrize("key", [bytes(16), bytes(24), bytes(33)])
def test_cipher_accepts_only_aes_256_keys(key: bytes) -> None:
    with pytest.raises(PiiKeyError):
        PiiCipher({"k1": key}, "k1")


def test_cipher_rejects_an_active_key_id_missing_from_the_ring_and_bad_key_ids() -> None:
    with pytest.raises(PiiKeyError):
        PiiCipher({"k1": KEY_A}, "k2")
    with pytest.raises(PiiKeyError):
        PiiCipher({"k:1": KEY_A}, "k:1")
    with pytest.raises(PiiKeyError):
        PiiCipher({}, "k1")


def test_generated_keys_are_random_32_byte_base64() -> None:
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(base64.b64decode(first, validate=True)) == 32
    PiiCipher.from_settings({"k1": first}, "k1")


def test_cipher_repr_does_not_reveal_key_material() -> None:
    text = repr(PiiCipher({"k1": KEY_A}, "k1")) + repr(PiiHasher(HASH_KEY))
    assert "k1" in text
    assert KEY_A.hex() not in text and base64.b64encode(KEY_A).decode() not in text
    assert base64.b64encode(HASH_KEY).decode() not in text


# --- keyed hash -------------------------------------------------------------------------------


def test_keyed_hash_is_deterministic_hmac_sha256_hex() -> None:
    hasher = PiiHasher(HASH_KEY)
    digest = hasher.keyed_hash("11010519491231002X")
    assert digest == hasher.keyed_hash("11010519491231002X")
    assert digest == hmac.new(HASH_KEY, b"11010519491231002X", hashlib.sha256).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_keyed_hash_depends_on_the_key_and_the_value() -> None:
    value = "11010519491231002X"
    assert PiiHasher(HASH_KEY).keyed_hash(value) != PiiHasher(KEY_A).keyed_hash(value)
    assert PiiHasher(HASH_KEY).keyed_hash(value) != PiiHasher(HASH_KEY).keyed_hash("210102199003071233")
    assert PiiHasher(HASH_KEY).keyed_hash(value) != hashlib.sha256(value.encode()).hexdigest()


def test_hasher_rejects_short_keys_and_loads_from_settings() -> None:
    with pytest.raises(PiiKeyError):
        PiiHasher(bytes(16))
    from_settings = PiiHasher.from_settings(base64.b64encode(HASH_KEY).decode())
    assert from_settings.keyed_hash("x") == PiiHasher(HASH_KEY).keyed_hash("x")


# --- log scrubbing ----------------------------------------------------------------------------


def test_scrub_masks_citizen_id_inside_chinese_text() -> None:
    line = "申请人张三，身份证号210102199003071233，住址大连市中山区"
    assert scrub(line) == "申请人张三，身份证号2101**********1233，住址大连市中山区"


def test_scrub_masks_every_id_and_lowercase_x() -> None:
    line = "ids=[11010519491231002x, 210102199003071233]"
    assert scrub(line) == "ids=[1101**********002X, 2101**********1233]"


@pytest.mark.parametrize(
    "line",
    [
        "统一社会信用代码91110000600037341L",  # enterprise codes are public
        "card 6222021001122334455",  # 19 digits: not an ID number
        "trace a210102199003071233",  # glued to a Latin letter: part of another token
        "amount 12345",
    ],
)
def test_scrub_leaves_other_numbers_alone(line: str) -> None:
    assert scrub(line) == line


def test_scrub_processor_masks_nested_values_without_mutating_the_input() -> None:
    payload = {"applicant": {"name": "张三", "ids": ["210102199003071233", ("11010519491231002X",)]}}
    event_dict = {
        "event": "repair application from 210102199003071233 received",
        "payload": payload,
        "numeric_id": 210102199003071233,
        "count": 3,
        "ok": True,
    }
    out = scrub_processor(None, "info", event_dict)
    assert out == {
        "event": "repair application from 2101**********1233 received",
        "payload": {"applicant": {"name": "张三", "ids": ["2101**********1233", ("1101**********002X",)]}},
        "numeric_id": "2101**********1233",
        "count": 3,
        "ok": True,
    }
    assert payload["applicant"]["ids"][0] == "210102199003071233"  # caller's object untouched


def test_scrub_processor_works_in_a_structlog_chain() -> None:
    logger = structlog.wrap_logger(
        structlog.ReturnLogger(), processors=[scrub_processor, structlog.processors.JSONRenderer()]
    )
    rendered = logger.info("身份证号210102199003071233校验失败", subject={"id": "11010519491231002X"})
    assert "210102199003071233" not in rendered and "11010519491231002X" not in rendered
    assert json.loads(rendered) == {
        "event": "身份证号2101**********1233校验失败",
        "subject": {"id": "1101**********002X"},
    }


def test_test_factories_make_identifiers_that_pass_validation():
    from jointcredit_common.testing.factories import resident_id, uscc

    assert all(normalize_resident_id(resident_id(n)) == resident_id(n) for n in range(200))
    assert all(normalize_uscc(uscc(n)) == uscc(n) for n in range(200))
