/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11/names.c: every table has unique values and names, every standard
 * return code has a name, and lookups answer as expected.
 */
#include <string.h>

#include "p11portal/pkcs11-vendor.h"
#include "pkcs11/names.h"
#include "tests/unit/check.h"

/* The standard CKR_ codes of the p11-kit 0.24 header plus PKCS#11 3.0. */
static const CK_RV standard_rv[] = {
    CKR_OK,
    CKR_CANCEL,
    CKR_HOST_MEMORY,
    CKR_SLOT_ID_INVALID,
    CKR_GENERAL_ERROR,
    CKR_FUNCTION_FAILED,
    CKR_ARGUMENTS_BAD,
    CKR_NO_EVENT,
    CKR_NEED_TO_CREATE_THREADS,
    CKR_CANT_LOCK,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_ACTION_PROHIBITED,
    CKR_DATA_INVALID,
    CKR_DATA_LEN_RANGE,
    CKR_DEVICE_ERROR,
    CKR_DEVICE_MEMORY,
    CKR_DEVICE_REMOVED,
    CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_FUNCTION_CANCELED,
    CKR_FUNCTION_NOT_PARALLEL,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_SIZE_RANGE,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_KEY_NOT_NEEDED,
    CKR_KEY_CHANGED,
    CKR_KEY_NEEDED,
    CKR_KEY_INDIGESTIBLE,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_NOT_WRAPPABLE,
    CKR_KEY_UNEXTRACTABLE,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_EXPIRED,
    CKR_PIN_LOCKED,
    CKR_SESSION_CLOSED,
    CKR_SESSION_COUNT,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    CKR_SESSION_READ_ONLY,
    CKR_SESSION_EXISTS,
    CKR_SESSION_READ_ONLY_EXISTS,
    CKR_SESSION_READ_WRITE_SO_EXISTS,
    CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_NOT_RECOGNIZED,
    CKR_TOKEN_WRITE_PROTECTED,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_SIZE_RANGE,
    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_NOT_LOGGED_IN,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_USER_TYPE_INVALID,
    CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    CKR_USER_TOO_MANY_TYPES,
    CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
    CKR_WRAPPING_KEY_HANDLE_INVALID,
    CKR_WRAPPING_KEY_SIZE_RANGE,
    CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_RANDOM_SEED_NOT_SUPPORTED,
    CKR_RANDOM_NO_RNG,
    CKR_DOMAIN_PARAMS_INVALID,
    CKR_CURVE_NOT_SUPPORTED,
    CKR_BUFFER_TOO_SMALL,
    CKR_SAVED_STATE_INVALID,
    CKR_INFORMATION_SENSITIVE,
    CKR_STATE_UNSAVEABLE,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CKR_MUTEX_BAD,
    CKR_MUTEX_NOT_LOCKED,
    CKR_NEW_PIN_MODE,
    CKR_NEXT_OTP,
    CKR_EXCEEDED_MAX_ITERATIONS,
    CKR_FIPS_SELF_TEST_FAILED,
    CKR_LIBRARY_LOAD_FAILED,
    CKR_PIN_TOO_WEAK,
    CKR_PUBLIC_KEY_INVALID,
    CKR_FUNCTION_REJECTED,
    CKR_TOKEN_RESOURCE_EXCEEDED,
    CKR_OPERATION_CANCEL_FAILED,
};

static void test_no_duplicates(void)
{
    for (int k = 0; k < P11P_NAMES_KIND_COUNT; k++) {
        size_t n = 0;
        const struct p11p_name *t = p11p_names_table(k, &n);

        CHECK(t != NULL);
        CHECK(n > 0);
        for (size_t i = 0; i < n; i++) {
            CHECK(t[i].name != NULL && t[i].name[0] != '\0');
            for (size_t j = i + 1; j < n; j++) {
                if (t[i].value == t[j].value) {
                    CHECK_FAIL_AT("kind %d: %s and %s share 0x%lx", k,
                                  t[i].name, t[j].name,
                                  (unsigned long)t[i].value);
                }
                if (strcmp(t[i].name, t[j].name) == 0) {
                    CHECK_FAIL_AT("kind %d: %s twice", k, t[i].name);
                }
            }
        }
    }
}

static void test_every_standard_rv(void)
{
    for (size_t i = 0; i < sizeof(standard_rv) / sizeof(standard_rv[0]); i++) {
        if (p11p_names_lookup(P11P_NAMES_CKR, standard_rv[i]) == NULL) {
            CHECK_FAIL_AT("no name for CKR 0x%lx",
                          (unsigned long)standard_rv[i]);
        }
        check_count++;
    }
}

static void test_lookups(void)
{
    CHECK_STR_EQ(p11p_names_rv(CKR_OK), "CKR_OK");
    CHECK_STR_EQ(p11p_names_rv(CKR_BUFFER_TOO_SMALL), "CKR_BUFFER_TOO_SMALL");
    CHECK_STR_EQ(p11p_names_rv(CKR_OPERATION_CANCEL_FAILED),
                 "CKR_OPERATION_CANCEL_FAILED");
    CHECK_STR_EQ(p11p_names_attr(CKA_EC_PARAMS), "CKA_EC_PARAMS");
    CHECK_STR_EQ(p11p_names_attr(CKA_P11PORTAL_SUBJECT),
                 "CKA_P11PORTAL_SUBJECT");
    CHECK_STR_EQ(p11p_names_mech(CKM_ECDSA_SHA256), "CKM_ECDSA_SHA256");
    CHECK_STR_EQ(p11p_names_mech(CKM_EDDSA), "CKM_EDDSA");
    CHECK_STR_EQ(p11p_names_get(P11P_NAMES_CKO, CKO_CERTIFICATE),
                 "CKO_CERTIFICATE");
    CHECK_STR_EQ(p11p_names_get(P11P_NAMES_CKK, CKK_EC_EDWARDS),
                 "CKK_EC_EDWARDS");
    CHECK_STR_EQ(p11p_names_get(P11P_NAMES_CKU, CKU_SO), "CKU_SO");
    CHECK(p11p_names_lookup(P11P_NAMES_CKR, 0x7fffffffUL) == NULL);
    CHECK_STR_EQ(p11p_names_rv(0x7fffffffUL), "?");
    CHECK(p11p_names_lookup(P11P_NAMES_KIND_COUNT, 0) == NULL);
}

int main(void)
{
    CHECK_RUN(test_no_duplicates);
    CHECK_RUN(test_every_standard_rv);
    CHECK_RUN(test_lookups);
    return check_summary();
}
