/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The field rules of core/field.h: free text, and the fields built on it. */
#include <stdint.h>

#include "field.h"
#include "test.h"

/* Text as a person types it: any script, no control character, within its length. */
static void test_text(void) {
        CHECK(ehr_text_valid("", 10));
        CHECK(ehr_text_valid("Patient in bed 4: crash, no ID on him", SIZE_MAX));
        CHECK(ehr_text_valid("Jürgen Müller-Łukasiewicz 山田", SIZE_MAX));
        CHECK(!ehr_text_valid(NULL, SIZE_MAX));
        CHECK(!ehr_text_valid("two\nlines", SIZE_MAX));
        CHECK(!ehr_text_valid("a\ttab", SIZE_MAX));
        CHECK(!ehr_text_valid("del\x7f", SIZE_MAX));
        CHECK(!ehr_text_valid("\xc3\x28", SIZE_MAX));         /* a broken sequence */
        CHECK(!ehr_text_valid("\xc0\xaf", SIZE_MAX));         /* an overlong '/' */
        CHECK(!ehr_text_valid("\xed\xa0\x80", SIZE_MAX));     /* a surrogate */
        CHECK(ehr_text_valid("abcd", 4) && !ehr_text_valid("abcde", 4)); /* bytes, not characters */
        CHECK(ehr_text_valid("\xc3\xbc\xc3\xbc", 4) && !ehr_text_valid("\xc3\xbc\xc3\xbc" "a", 4));

        CHECK(ehr_utf8_chars("", 0) == 0);
        CHECK(ehr_utf8_chars("M\xc3\xbcller", 7) == 6);
        CHECK(ehr_utf8_chars("\xe5\xb1\xb1\xe7\x94\xb0", 6) == 2);
        CHECK(ehr_utf8_chars("abc", 2) == 2);                 /* the first n bytes */
        CHECK(ehr_utf8_chars("ab", 10) == 2);                 /* never past the end */
}

/* The account fields that are text add their own limits: ':' (passwd(5)'s
 * separator) for all of them, 128 bytes for a name or note. */
static void test_fields_on_text(void) {
        char big[200];
        memset(big, 'x', sizeof big);
        big[EHR_FIELD_TEXT_MAX] = 0;
        CHECK(ehr_field_valid(EHR_FIELD_TEXT, big));
        big[EHR_FIELD_TEXT_MAX] = 'x';
        big[EHR_FIELD_TEXT_MAX + 1] = 0;
        CHECK(!ehr_field_valid(EHR_FIELD_TEXT, big));
        CHECK(ehr_field_valid(EHR_FIELD_TEXT, "Dr. Ana Núñez"));
        CHECK(!ehr_field_valid(EHR_FIELD_TEXT, "Ana: ward 3"));
        CHECK(!ehr_field_valid(EHR_FIELD_TEXT, "Ana\r"));
        CHECK(ehr_field_valid(EHR_FIELD_PATH, "/home/ana"));
        CHECK(!ehr_field_valid(EHR_FIELD_PATH, "home/ana") && !ehr_field_valid(EHR_FIELD_PATH, "/home/a:b"));
        CHECK(!ehr_field_valid(EHR_FIELD_PATH, "/home/\xff"));
        CHECK(ehr_field_valid(EHR_FIELD_EMAIL, "ana.nunez@hospital.example"));
        CHECK(ehr_field_valid(EHR_FIELD_EMAIL, "añа@hospital.example"));
        CHECK(!ehr_field_valid(EHR_FIELD_EMAIL, "ana nunez@hospital.example"));
        CHECK(!ehr_field_valid(EHR_FIELD_EMAIL, "ana@@hospital.example") && !ehr_field_valid(EHR_FIELD_EMAIL, "@x"));
        CHECK(!ehr_field_valid(EHR_FIELD_EMAIL, "ana@x\n") && !ehr_field_valid(EHR_FIELD_EMAIL, "ana@x:y"));
        CHECK(!ehr_field_valid(EHR_FIELD_EMAIL, "ana@\xc3"));
}

int main(void) {
        test_text();
        test_fields_on_text();
        return test_result();
}
