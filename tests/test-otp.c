/* SPDX-License-Identifier: GPL-2.0-or-later */
/* HOTP/TOTP against the published vectors, and base32. */
#include <sodium.h>
#include <stdio.h>

#include "base32.h"
#include "test.h"
#include "totp.h"

static const uint8_t key20[] = "12345678901234567890";
static const uint8_t key32[] = "12345678901234567890123456789012";
static const uint8_t key64[] = "1234567890123456789012345678901234567890123456789012345678901234";

static void test_rfc4226(void) {
        /* RFC 4226 Appendix D. */
        static const char *const expect[] = { "755224", "287082", "359152", "969429", "338314",
                                              "254676", "287922", "162583", "399871", "520489" };
        for (unsigned i = 0; i < ELEMENTSOF(expect); i++) {
                char out[EHR_OTP_DIGITS_MAX + 1];
                CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, i, 6, out, sizeof out) == 0);
                CHECK_STREQ(out, expect[i]);
        }
}

static void test_rfc6238(void) {
        /* RFC 6238 Appendix B: 8 digits, period 30, seeds of 20/32/64 bytes. */
        static const struct {
                uint64_t t;
                const char *sha1, *sha256, *sha512;
        } v[] = {
                { 59, "94287082", "46119246", "90693936" },
                { 1111111109, "07081804", "68084774", "25091201" },
                { 1111111111, "14050471", "67062674", "99943326" },
                { 1234567890, "89005924", "91819424", "93441116" },
                { 2000000000, "69279037", "90698825", "38618901" },
                { 20000000000ULL, "65353130", "77737706", "47863826" },
        };
        for (unsigned i = 0; i < ELEMENTSOF(v); i++) {
                char out[EHR_OTP_DIGITS_MAX + 1];
                uint64_t step = ehr_totp_step(v[i].t, 30);
                CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, step, 8, out, sizeof out) == 0);
                CHECK_STREQ(out, v[i].sha1);
                CHECK(ehr_hotp(key32, 32, EHR_OTP_SHA256, step, 8, out, sizeof out) == 0);
                CHECK_STREQ(out, v[i].sha256);
                CHECK(ehr_hotp(key64, 64, EHR_OTP_SHA512, step, 8, out, sizeof out) == 0);
                CHECK_STREQ(out, v[i].sha512);
        }
}

static void test_verify_window_and_replay(void) {
        struct ehr_otp_params p = { EHR_OTP_SHA1, 6, 30 };
        char code[EHR_OTP_DIGITS_MAX + 1];
        uint64_t now = 1111111111, step = ehr_totp_step(now, 30), got = 0;

        /* The code of the previous step is inside a window of 1, two steps back is not. */
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, step - 1, 6, code, sizeof code) == 0);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 1, 0, false, code, &got) == 0);
        CHECK(got == step - 1);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 0, 0, false, code, &got) == -EBADRQC);
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, step - 2, 6, code, sizeof code) == 0);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 1, 0, false, code, &got) == -EBADRQC);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 2, 0, false, code, &got) == 0);

        /* A step at or before the last used one is a replay. */
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, step, 6, code, sizeof code) == 0);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 1, step, true, code, &got) == -EALREADY);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 1, step - 1, true, code, &got) == 0);
        CHECK(got == step);

        /* Wrong length, letters, empty. */
        CHECK(ehr_totp_verify(key20, 20, &p, now, 1, 0, false, "12345", &got) == -EBADRQC);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 1, 0, false, "", &got) == -EBADRQC);
        CHECK(ehr_totp_verify(key20, 20, &p, now, 1, 0, false, "1234567", &got) == -EBADRQC);
}

static void test_seven_digits(void) {
        /* Authy-style 7 digits: the value is the same truncation mod 10^7. */
        struct ehr_otp_params p = { EHR_OTP_SHA1, 7, 30 };
        char c6[EHR_OTP_DIGITS_MAX + 1], c7[EHR_OTP_DIGITS_MAX + 1], c8[EHR_OTP_DIGITS_MAX + 1];
        uint64_t got;
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, 1, 6, c6, sizeof c6) == 0);
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, 1, 7, c7, sizeof c7) == 0);
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, 1, 8, c8, sizeof c8) == 0);
        CHECK(strlen(c7) == 7);
        CHECK(strcmp(c8 + 1, c7) == 0); /* 8-digit value mod 10^7 */
        CHECK(strcmp(c7 + 1, c6) == 0);
        CHECK(ehr_totp_verify(key20, 20, &p, 45, 0, 0, false, c7, &got) == 0);
        CHECK(ehr_totp_verify(key20, 20, &p, 45, 0, 0, false, c6, &got) == -EBADRQC);
}

static void test_bad_params(void) {
        char out[EHR_OTP_DIGITS_MAX + 1];
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, 0, 5, out, sizeof out) == -EINVAL);
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, 0, 9, out, sizeof out) == -EINVAL);
        CHECK(ehr_hotp(key20, 0, EHR_OTP_SHA1, 0, 6, out, sizeof out) == -EINVAL);
        CHECK(ehr_hotp(key20, 20, EHR_OTP_SHA1, 0, 8, out, 8) == -ERANGE);
        enum ehr_otp_algorithm a;
        CHECK(ehr_otp_algorithm_from_string("sha256", &a) == 0 && a == EHR_OTP_SHA256);
        CHECK(ehr_otp_algorithm_from_string("md5", &a) == -EINVAL);
}

static void test_base32(void) {
        uint8_t buf[64];
        char enc[EHR_BASE32_ENCODED_SIZE(20)];
        CHECK(ehr_base32_decode("JBSWY3DPEHPK3PXP", buf, sizeof buf) == 10);
        CHECK(memcmp(buf, "Hello!\xde\xad\xbe\xef", 10) == 0);
        CHECK(ehr_base32_decode("jbsw y3dp-ehpk3pxp", buf, sizeof buf) == 10);
        CHECK(ehr_base32_decode("MZXW6===", buf, sizeof buf) == 3 && memcmp(buf, "foo", 3) == 0);
        CHECK(ehr_base32_decode("JBSW1", buf, sizeof buf) == -EINVAL); /* '1' is not base32 */
        CHECK(ehr_base32_decode("A", buf, sizeof buf) == -EINVAL);     /* impossible length */
        CHECK(ehr_base32_decode("MZ=XW", buf, sizeof buf) == -EINVAL); /* data after padding */
        CHECK(ehr_base32_decode("JBSWY3DPEHPK3PXP", buf, 4) == -ERANGE);
        CHECK(ehr_base32_encode(key20, 20, enc, sizeof enc) == 0);
        CHECK_STREQ(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        CHECK(ehr_base32_encode(key20, 20, enc, 10) == -ERANGE);
}

int main(void) {
        CHECK(sodium_init() >= 0);
        test_rfc4226();
        test_rfc6238();
        test_verify_window_and_replay();
        test_seven_digits();
        test_bad_params();
        test_base32();
        return test_result();
}
