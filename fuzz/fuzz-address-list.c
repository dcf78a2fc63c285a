/* relaydesk — fuzz target: an address-list header value -> mailboxes
 * (rd_mail_address_list_parse, parser/address.c). Checks what every
 * caller relies on: valid UTF-8 names and addresses, never an empty
 * address, the cap on mailboxes, and the same answer for the same input. */
#include "mail-format.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* a header value is text: it ends at the first NUL */
  g_autofree char *value = g_strndup ((const char *) data, size);
  g_autoptr(GPtrArray) list = rd_mail_address_list_parse (value);
  g_assert (list->len <= 10000);
  for (guint i = 0; i < list->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (list, i);
      g_assert (a->name != NULL && a->addr != NULL && *a->addr != '\0');
      g_assert (g_utf8_validate (a->name, -1, NULL) && g_utf8_validate (a->addr, -1, NULL));
    }
  g_autoptr(GPtrArray) again = rd_mail_address_list_parse (value);
  g_assert (again->len == list->len);
  for (guint i = 0; i < list->len; i++)
    g_assert (strcmp (((RdAddress *) g_ptr_array_index (again, i))->addr,
                      ((RdAddress *) g_ptr_array_index (list, i))->addr) == 0);
  return 0;
}
