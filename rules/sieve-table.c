/* relaydesk — rules: the table of the Sieve language.
 *
 * Every extension relaydesk implements, each defined in its own file
 * (sieve-private.h says which), with the base language of RFC 5228 first.
 * Adding an extension is adding its file, a bit in SvExt and a line
 * here. The look-ups below run at compile time only: the compiled form
 * points at the table's entries.
 */
#include "sieve-private.h"

#include <string.h>

static const SvExtension *const extensions[] = {
  &sv_ext_core,
  &sv_ext_matching,
  &sv_ext_fileinto,
  &sv_ext_envelope,
  &sv_ext_encoded_character,
  &sv_ext_variables,
  &sv_ext_vacation,
  &sv_ext_vacation_seconds,
  &sv_ext_relational,
  &sv_ext_comparator_numeric,
  &sv_ext_comparator_octet,
  &sv_ext_comparator_casemap,
  &sv_ext_subaddress,
  &sv_ext_body,
  &sv_ext_copy,
  &sv_ext_regex,
  &sv_ext_date,
  &sv_ext_index,
  &sv_ext_imap4flags,
  &sv_ext_include,
  &sv_ext_duplicate,
  &sv_ext_reject,
  &sv_ext_ticket,
};

const SvExtension *
sv_capability_find (const char *capability)
{
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    if (extensions[i]->capability && !strcmp (extensions[i]->capability, capability))
      return extensions[i];
  return NULL;
}

static int
cmp_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
sv_capability_list (const char *const *allowed)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    {
      const SvExtension *e = extensions[i];
      if (e->capability && (allowed == NULL || e->always || g_strv_contains (allowed, e->capability)))
        g_ptr_array_add (names, (gpointer) e->capability);
    }
  g_ptr_array_sort (names, cmp_name);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

const char *
sv_capability_name (SvExt ext)
{
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    if (extensions[i]->capability && extensions[i]->ext == ext)
      return extensions[i]->capability;
  return "?";
}

const SvCommandDef *
sv_command_find (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    for (const SvCommandDef *d = extensions[i]->commands; d && d->name; d++)
      if (!strcmp (d->name, name))
        return d;
  return NULL;
}

const SvTestDef *
sv_test_find (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    for (const SvTestDef *d = extensions[i]->tests; d && d->name; d++)
      if (!strcmp (d->name, name))
        return d;
  return NULL;
}

const SvTagDef *
sv_tag_find (const char *name, guint classes, const SvTagDef *own)
{
  if (classes)
    for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
      for (const SvTagDef *d = extensions[i]->tags; d && d->name; d++)
        if ((d->classes & classes) && !strcmp (d->name, name))
          return d;
  for (const SvTagDef *d = own; d && d->name; d++)
    if (!strcmp (d->name, name))
      return d;
  return NULL;
}

const SvNamespace *
sv_namespace_find (guint exts, const char *lname)
{
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    {
      const SvNamespace *ns = extensions[i]->var_namespace;
      if (ns && (exts & ns->enabled_by) && g_str_has_prefix (lname, ns->prefix))
        return ns;
    }
  return NULL;
}

gboolean
sv_namespaces_enabled (guint exts)
{
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    if (extensions[i]->var_namespace && (exts & extensions[i]->var_namespace->enabled_by))
      return TRUE;
  return FALSE;
}

char *
sv_decode_string (guint exts, const char *text, gsize len, gsize *out_len, const char **error)
{
  char *s = g_strndup (text, len);
  *out_len = len;
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    if (extensions[i]->decode_string && (exts & extensions[i]->ext))
      {
        char *d = extensions[i]->decode_string (s, *out_len, out_len, error);
        g_free (s);
        s = d;
      }
  return s;
}
