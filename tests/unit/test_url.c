/*
 * test_url.c - url.c: the canonical form (a table drawn from the test
 * conventions of w3lib canonicalize_url, courlan normalize_url, StormCrawler
 * and Nutch BasicURLNormalizer, with sluice's own decisions where they
 * differ), idempotence of every row, rejections, options, origin and
 * same-site.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "url.h"

struct url_case {
	const char	*in;
	const char	*want;
};

struct url_reject {
	const char	*in;
	enum url_status	 want;
};

static const struct url_case url_cases[] = {
	/* Case, default ports, empty path (Nutch, StormCrawler, courlan). */
	{ " http://foo.com/ ", "http://foo.com/" },
	{ "HTTP://foo.com/", "http://foo.com/" },
	{ "http://Foo.Com/index.html", "http://foo.com/index.html" },
	{ "HTTP://www.quanjing.com/", "http://www.quanjing.com/" },
	{ "http://www.QUANJING.COM/", "http://www.quanjing.com/" },
	{ "HtTpS://ExAmPlE.oRg/Path/To", "https://example.org/Path/To" },
	{ "http://foo.com", "http://foo.com/" },
	{ "http://foo.com:80/index.html", "http://foo.com/index.html" },
	{ "http://foo.com:81/", "http://foo.com:81/" },
	{ "http://example.com:/", "http://example.com/" },
	{ "https://example.com:/foobar.html", "https://example.com/foobar.html" },
	{ "https://example.com:443/x", "https://example.com/x" },
	{ "https://example.com:80/x", "https://example.com:80/x" },
	{ "http://example.com:443/x", "http://example.com:443/x" },
	{ "http://example.com:8080", "http://example.com:8080/" },
	{ "http://example.com:08080/", "http://example.com:8080/" },
	{ "http://example.com:0080/", "http://example.com/" },
	{ "http://example.com:65535/", "http://example.com:65535/" },
	{ "http://www.example.org:80?p=123", "http://www.example.org/?p=123" },
	{ "http://www.example.com:8888/do?a=1&b=2&c=3",
	  "http://www.example.com:8888/do?a=1&b=2&c=3" },
	{ "http://www.example.com:/do?a=1&b=2&c=3",
	  "http://www.example.com/do?a=1&b=2&c=3" },

	/* Fragments are dropped; an encoded '#' is not one. */
	{ "http://foo.com/foo.html#ref", "http://foo.com/foo.html" },
	{ "http://www.sourcedomain.com/#0", "http://www.sourcedomain.com/" },
	{ "http://test.net/foo.html#:~:text=night-,vision",
	  "http://test.net/foo.html" },
	{ "http://a.com/#", "http://a.com/" },
	{ "http://a.com/?a=1#x?y", "http://a.com/?a=1" },
	{ "http://a.com#frag", "http://a.com/" },
	{ "http://www.example.com/path/to/%23/foo/bar#frag",
	  "http://www.example.com/path/to/%23/foo/bar" },
	{ "http://foo.com/file.html%23cz", "http://foo.com/file.html%23cz" },

	/* Dot segments (Nutch), also spelt %2E. */
	{ "http://foo.com/aa/./foo.html", "http://foo.com/aa/foo.html" },
	{ "http://foo.com/aa/../", "http://foo.com/" },
	{ "http://foo.com/aa/bb/../", "http://foo.com/aa/" },
	{ "http://foo.com/aa/..", "http://foo.com/" },
	{ "http://foo.com/aa/bb/cc/../../foo.html",
	  "http://foo.com/aa/foo.html" },
	{ "http://foo.com/aa/bb/../cc/dd/../ee/foo.html",
	  "http://foo.com/aa/cc/ee/foo.html" },
	{ "http://foo.com/../foo.html", "http://foo.com/foo.html" },
	{ "http://foo.com/../../foo.html", "http://foo.com/foo.html" },
	{ "http://foo.com/../aa/../foo.html", "http://foo.com/foo.html" },
	{ "http://foo.com/aa/../../foo.html", "http://foo.com/foo.html" },
	{ "http://foo.com/aa/../bb/../foo.html/../../", "http://foo.com/" },
	{ "http://foo.com/../aa/foo.html", "http://foo.com/aa/foo.html" },
	{ "http://foo.com/a..a/foo.html", "http://foo.com/a..a/foo.html" },
	{ "http://foo.com/a..a/../foo.html", "http://foo.com/foo.html" },
	{ "http://foo.com/foo.foo/../foo.html", "http://foo.com/foo.html" },
	{ "http://foo.com/aa/.", "http://foo.com/aa/" },
	{ "http://foo.com/./", "http://foo.com/" },
	{ "http://foo.com/.../x", "http://foo.com/.../x" },
	{ "http://x.com/./a/../%66.html", "http://x.com/f.html" },
	{ "http://docs.oracle.com/javase/7/docs/api/java/net/../net/./URI.html"
	  "#normalize()",
	  "http://docs.oracle.com/javase/7/docs/api/java/net/URI.html" },
	{ "http://a.com/b/%2e%2e/c", "http://a.com/c" },
	{ "http://a.com/b/%2E/c", "http://a.com/b/c" },
	{ "http://a.com/b/.%2e/c", "http://a.com/c" },
	{ "http://www.example.org/../../images/../image",
	  "http://www.example.org/image" },
	{ "http://a.com/a/b/c/./../../g", "http://a.com/a/g" },
	{ "http://a.com/a/b/c/g;x=1/./y", "http://a.com/a/b/c/g;x=1/y" },
	{ "http://a.com/a/b/c/g;x=1/../y", "http://a.com/a/b/c/y" },
	{ "http://a.com/a/b/..?x=1", "http://a.com/a/?x=1" },
	/* Only whole segments are dot segments, and only in the path. */
	{ "http://a.com/a%2E/b", "http://a.com/a./b" },
	{ "http://a.com/%2E%2E%2E/x", "http://a.com/.../x" },
	{ "http://a.com/b/%2E%2E", "http://a.com/" },
	{ "http://a.com/b/%2e?x=1", "http://a.com/b/?x=1" },
	{ "http://a.com/?x=/%2E%2E/y", "http://a.com/?x=/../y" },

	/* Empty segments are kept (Nutch and courlan collapse them). */
	{ "http://foo.com//aa/bb/foo.html", "http://foo.com//aa/bb/foo.html" },
	{ "http://foo.com/aa//bb/foo.html", "http://foo.com/aa//bb/foo.html" },
	{ "https://hanxiao.io//404.html", "https://hanxiao.io//404.html" },

	/* Percent-encoding (Nutch NUTCH-1098/2064, w3lib, StormCrawler). */
	{ "http://foo.com/%66oo.html", "http://foo.com/foo.html" },
	{ "http://foo.com/%66oo.htm%6c", "http://foo.com/foo.html" },
	{ "http://foo.com/%66oo.ht%6dl", "http://foo.com/foo.html" },
	{ "http://foo.com/%66oo.ht%6d%6c", "http://foo.com/foo.html" },
	{ "http://foo.com/%66oo.htm%C0", "http://foo.com/foo.htm%C0" },
	{ "http://foo.com/%66oo.htm%1A", "http://foo.com/foo.htm%1A" },
	{ "http://foo.com/%66oo.htm%c0", "http://foo.com/foo.htm%C0" },
	{ "http://foo.com/you%20too.html", "http://foo.com/you%20too.html" },
	{ "http://foo.com/you too.html", "http://foo.com/you%20too.html" },
	{ "http://foo.com/fast/dir%2fcz", "http://foo.com/fast/dir%2Fcz" },
	{ "http://mydomain.com/en Espa\xc3\xb1ol.aspx",
	  "http://mydomain.com/en%20Espa%C3%B1ol.aspx" },
	{ "http://x.com/s?q=a%26b&m=10", "http://x.com/s?m=10&q=a%26b" },
	{ "http://x.com/show?http%3A%2F%2Fx.com%2Fb",
	  "http://x.com/show?http%3A%2F%2Fx.com%2Fb" },
	{ "http://google.com/search?q=c%2B%2B",
	  "http://google.com/search?q=c%2B%2B" },
	{ "http://x.com/s?q=a+b", "http://x.com/s?q=a+b" },
	{ "http://x.com/?x[y]=1", "http://x.com/?x%5By%5D=1" },
	{ "http://x.com/foo\xc2\x80", "http://x.com/foo%C2%80" },
	{ "http://x.com/foo%c2%80", "http://x.com/foo%C2%80" },
	{ "http://www.example.com/r%c3%a9sum%c3%a9",
	  "http://www.example.com/r%C3%A9sum%C3%A9" },
	{ "http://www.example.com/a%a3do", "http://www.example.com/a%A3do" },
	{ "http://www.example.com/a%a3do?q=r%c3%a9sum%c3%a9",
	  "http://www.example.com/a%A3do?q=r%C3%A9sum%C3%A9" },
	{ "http://www.example.com/caf%E9-con-leche.htm",
	  "http://www.example.com/caf%E9-con-leche.htm" },
	/* w3lib decodes %2C; a reserved character's escape is kept here. */
	{ "https://example.com/a%23b%2cc#bash", "https://example.com/a%23b%2Cc" },
	{ "http://www.example.com/r\xc3\xa9sum\xc3\xa9",
	  "http://www.example.com/r%C3%A9sum%C3%A9" },
	{ "http://www.example.com/r\xc3\xa9sum\xc3\xa9?q=r\xc3\xa9sum\xc3\xa9",
	  "http://www.example.com/r%C3%A9sum%C3%A9?q=r%C3%A9sum%C3%A9" },
	{ "http://www.example.com/a do?a=1", "http://www.example.com/a%20do?a=1" },
	{ "http://www.example.com/a %20do?a=1",
	  "http://www.example.com/a%20%20do?a=1" },
	{ "http://www.example.com/a do\xc2\xa3.html?a=1",
	  "http://www.example.com/a%20do%C2%A3.html?a=1" },
	{ "http://www.example.com/do?price=\xc2\xa3" "500&a=5&z=3",
	  "http://www.example.com/do?a=5&price=%C2%A3" "500&z=3" },
	/* w3lib encodes the parentheses; sub-delims stay raw here. */
	{ "http://www.example.com/do?price(\xc2\xa3)=500&a=1",
	  "http://www.example.com/do?a=1&price(%C2%A3)=500" },
	{ "http://foo.com/AC%2FDC+rocks%3f/?yeah=1",
	  "http://foo.com/AC%2FDC+rocks%3F/?yeah=1" },
	{ "http://foo.com/AC%2FDC/", "http://foo.com/AC%2FDC/" },
	{ "http://www.simplybedrooms.com/White-Bedroom-Furniture/"
	  "Bedroom-Mirror:-Josephine-Cheval-Mirror.html",
	  "http://www.simplybedrooms.com/White-Bedroom-Furniture/"
	  "Bedroom-Mirror:-Josephine-Cheval-Mirror.html" },
	{ "http://www.example.com/test?p(29)url(http://www.another.net/page)",
	  "http://www.example.com/test?p(29)url(http://www.another.net/page)" },
	{ "http://www.example.com/Brochures_&_Paint_Cards&PageSize=200",
	  "http://www.example.com/Brochures_&_Paint_Cards&PageSize=200" },
	{ "http://www.dillards.com/product/ASICS-Womens-GT2000-3-LiteShow"
	  "%E2%84%A2-Running-Shoes_301_-1_301_504736989",
	  "http://www.dillards.com/product/ASICS-Womens-GT2000-3-LiteShow"
	  "%E2%84%A2-Running-Shoes_301_-1_301_504736989" },
	{ "http://www.dillards.com/p/LiteShow%E2%84%A2?how=are&you=doing",
	  "http://www.dillards.com/p/LiteShow%E2%84%A2?how=are&you=doing" },
	{ "http://www.voltaix.com/\\SDS\\Silicon\\Trisilane.pdf",
	  "http://www.voltaix.com/%5CSDS%5CSilicon%5CTrisilane.pdf" },
	{ "http://www.quanjing.com/search.aspx?q=top-651451||1|60|1|2||||&Fr=4",
	  "http://www.quanjing.com/search.aspx?Fr=4&"
	  "q=top-651451%7C%7C1%7C60%7C1%7C2%7C%7C%7C%7C" },
	/* StormCrawler keeps lower-case hex; RFC 3986 says upper. */
	{ "http://www.example.com/Exhibitions/Detail/NjAxOA%3d%3d",
	  "http://www.example.com/Exhibitions/Detail/NjAxOA%3D%3D" },
	/* No translation of IIS %uXXXX (StormCrawler does): a stray '%'. */
	{ "http://www.hurriyet.com.tr/index/?d=20160328&p=13&s=ni%u011fde",
	  "http://www.hurriyet.com.tr/index/?d=20160328&p=13&s=ni%25u011fde" },
	{ "http://a.com/%7Euser", "http://a.com/~user" },
	{ "http://a.com/%41%42%43%5a%61%7a%30%39%2D%2E%5F%7E",
	  "http://a.com/ABCZaz09-._~" },
	{ "http://a.com/%21%24%26%27%28%29%2a%2b%2c%3b%3d%3a%40",
	  "http://a.com/%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40" },
	{ "http://a.com/%zz", "http://a.com/%25zz" },
	{ "http://a.com/100%", "http://a.com/100%25" },
	{ "http://a.com/%4%31", "http://a.com/%2541" },
	{ "http://a.com/p%25q", "http://a.com/p%25q" },
	{ "http://a.com/{x}", "http://a.com/%7Bx%7D" },
	{ "http://a.com/a\"b<c>d", "http://a.com/a%22b%3Cc%3Ed" },
	{ "http://a.com/^`|", "http://a.com/%5E%60%7C" },
	{ "http://a.com/!$&'()*+,;=:@", "http://a.com/!$&'()*+,;=:@" },
	{ "http://a.com/p\xff\xfe", "http://a.com/p%FF%FE" },
	{ "http://a.com/%e2%82%ac?c=\xe2\x82\xac",
	  "http://a.com/%E2%82%AC?c=%E2%82%AC" },
	{ "http://a.com/?q=%20", "http://a.com/?q=%20" },
	{ "http://a.com/?q=a b", "http://a.com/?q=a%20b" },
	{ "http://a.com/?q=%2b", "http://a.com/?q=%2B" },
	{ "http://a.com/?q=%3d&r=%26", "http://a.com/?q=%3D&r=%26" },

	/* Query order and blank values (w3lib, StormCrawler, courlan). */
	{ "http://www.example.com/do?a=1&b=2&c=3",
	  "http://www.example.com/do?a=1&b=2&c=3" },
	{ "http://www.example.com/do?c=1&b=2&a=3",
	  "http://www.example.com/do?a=3&b=2&c=1" },
	{ "http://www.example.com/do?&a=1", "http://www.example.com/do?a=1" },
	/* w3lib sorts values too; a stable sort keeps b=5 before b=2. */
	{ "http://www.example.com/do?c=3&b=5&b=2&a=50",
	  "http://www.example.com/do?a=50&b=5&b=2&c=3" },
	{ "http://www.example.com/do?b=&a=2", "http://www.example.com/do?a=2&b=" },
	/* w3lib turns "c" into "c="; "a" and "a=" stay distinct here. */
	{ "http://www.example.com/do?b=&c&a=2",
	  "http://www.example.com/do?a=2&b=&c" },
	{ "http://www.example.com/do?1750,4", "http://www.example.com/do?1750,4" },
	{ "http://google.com?keep1=true&a=c&foo=baz&keep2=true",
	  "http://google.com/?a=c&foo=baz&keep1=true&keep2=true" },
	{ "http://google.com?a=c|d&foo=baz&foo=bar&test=true&z=2&d=4",
	  "http://google.com/?a=c%7Cd&d=4&foo=baz&foo=bar&test=true&z=2" },
	{ "http://test.net/foo.html?page=2&itemid=10&lang=en",
	  "http://test.net/foo.html?itemid=10&lang=en&page=2" },
	{ "https://example.org:443/file.html?p=100&abc=1#frag",
	  "https://example.org/file.html?abc=1&p=100" },
	{ "http://a.com/?b=1&B=2&a=3", "http://a.com/?B=2&a=3&b=1" },
	{ "http://a.com/?a=2&a=1&a", "http://a.com/?a=2&a=1&a" },
	{ "http://a.com/?ab=1&a=2", "http://a.com/?a=2&ab=1" },
	{ "http://a.com/?a&a=", "http://a.com/?a&a=" },
	{ "http://a.com/?a=&a", "http://a.com/?a=&a" },
	{ "http://a.com/?a=2&=1", "http://a.com/?=1&a=2" },
	{ "http://a.com/?x=1&&&y=2&", "http://a.com/?x=1&y=2" },
	{ "http://a.com/?", "http://a.com/" },
	{ "http://a.com/?&", "http://a.com/" },
	{ "http://a.com/p?;x=1", "http://a.com/p?;x=1" },
	{ "http://a.com/?c=3&a=1;b=2", "http://a.com/?a=1;b=2&c=3" },
	{ "http://foo.com/aa?referer=http://bar.com",
	  "http://foo.com/aa?referer=http://bar.com" },
	{ "http://a.com/?q=%7e&p=%7E", "http://a.com/?p=~&q=~" },
	{ "http://a.com/?%61=1&a=2", "http://a.com/?a=1&a=2" },

	/* Tracking parameters. */
	{ "http://test.net/foo.html?utm_source=twitter",
	  "http://test.net/foo.html" },
	{ "http://test.net/foo.html?utm_source=twitter&post=abc&page=2",
	  "http://test.net/foo.html?page=2&post=abc" },
	{ "http://vins.lemonde.fr?utm_source=LeMonde_partenaire_hp&"
	  "utm_medium=EMPLACEMENT PARTENAIRE&utm_term=&utm_content=&"
	  "utm_campaign=LeMonde_partenaire_hp", "http://vins.lemonde.fr/" },
	{ "https://example.com/a?fbclid=IwAR0abc", "https://example.com/a" },
	{ "https://example.com/a?gclid=x&id=5", "https://example.com/a?id=5" },
	{ "https://example.com/a?id=5&msclkid=abc&mc_cid=1&mc_eid=2",
	  "https://example.com/a?id=5" },
	{ "https://example.com/a?UTM_Source=x&Fbclid=y&id=1",
	  "https://example.com/a?id=1" },
	{ "https://example.com/a?utm_=1&utm=2", "https://example.com/a?utm=2" },
	{ "https://example.com/a?utm%5Fsource=1&x=2", "https://example.com/a?x=2" },
	{ "https://example.com/a?xutm_source=1",
	  "https://example.com/a?xutm_source=1" },
	{ "https://example.com/a?fbclid", "https://example.com/a" },
	{ "https://example.com/a?gclsrc=aw.ds&dclid=1&gbraid=2&wbraid=3&"
	  "yclid=4&twclid=5&ttclid=6&igshid=7&_hsenc=8&_hsmi=9&mkt_tok=10&"
	  "keep=1", "https://example.com/a?keep=1" },
	{ "https://example.com/a?fbclid_x=1", "https://example.com/a?fbclid_x=1" },
	{ "https://example.com/a?utm_source=x#top", "https://example.com/a" },
	{ "http://www.example.com/path/to/%23/foo/bar?url=http%3A%2F%2F"
	  "www.example.com%2Fpath%2Fto%2F%23%2Fbar%2Ffoo",
	  "http://www.example.com/path/to/%23/foo/bar?url=http%3A%2F%2F"
	  "www.example.com%2Fpath%2Fto%2F%23%2Fbar%2Ffoo" },

	/* IDN to punycode (StormCrawler hostIDNtoASCII, w3lib). */
	{ "http://se\xc3\xb1" "al6.com.ar/", "http://xn--seal6-pta.com.ar/" },
	{ "http://\xd1\x81\xd1\x84\xd0\xb5\xd1\x80\xd0\xb0.\xd1\x83\xd0\xba"
	  "\xd1\x80/", "http://xn--80aj7acp.xn--j1amh/" },
	{ "http://www.f\xc3\xa4rgbolaget.nu/f\xc3\xa4rgbolaget",
	  "http://www.xn--frgbolaget-q5a.nu/f%C3%A4rgbolaget" },
	{ "http://www.r\xc3\xa4ksm\xc3\xb6rg\xc3\xa5s.se/?r\xc3\xa4ksm\xc3\xb6rg"
	  "\xc3\xa5s=yes", "http://www.xn--rksmrgs-5wao1o.se/"
	  "?r%C3%A4ksm%C3%B6rg%C3%A5s=yes" },
	{ "http://www.\xec\x98\x88\xeb\xb9\x84\xea\xb5\x90\xec\x82\xac.com",
	  "http://www.xn--9d0bm53a3xbzui.com/" },
	{ "http://\xe7\x90\x86\xe5\xae\xb9\xe3\x83\x8a\xe3\x82\xab\xe3\x83\xa0"
	  "\xe3\x83\xa9.com", "http://xn--lck1c3crb1723bpq4a.com/" },
	{ "http://www.b\xc3\xbc" "cher.de/?q=b\xc3\xbc" "cher",
	  "http://www.xn--bcher-kva.de/?q=b%C3%BCcher" },
	{ "http://\xe3\x81\xaf\xe3\x81\x98\xe3\x82\x81\xe3\x82\x88\xe3\x81\x86."
	  "\xe3\x81\xbf\xe3\x82\x93\xe3\x81\xaa/?query=\xe3\x82\xb5&maxResults=5",
	  "http://xn--p8j9a0d9c9a.xn--q9jyb4c/?maxResults=5&query=%E3%82%B5" },
	{ "http://\xd0\xba\xd1\x82\xd0\xbe.\xd1\x80\xd1\x84/index.php?domain="
	  "\xd0\xa7\xd1\x82\xd0\xbe", "http://xn--j1ail.xn--p1ai/index.php"
	  "?domain=%D0%A7%D1%82%D0%BE" },
	{ "http://nic.\xd8\xb4\xd8\xa8\xd9\x83\xd8\xa9",
	  "http://nic.xn--ngbc5azd/" },
	{ "https://www.\xe8\xb4\xb7\xe6\xac\xbe.\xe5\x9c\xa8\xe7\xba\xbf",
	  "https://www.xn--0kwr83e.xn--3ds443g/" },
	{ "https://www2.xn--0kwr83e.\xe5\x9c\xa8\xe7\xba\xbf",
	  "https://www2.xn--0kwr83e.xn--3ds443g/" },
	/* courlan shows the Unicode form; the canonical form is ASCII. */
	{ "http://xn--Mnchen-3ya.de", "http://xn--mnchen-3ya.de/" },
	{ "http://M\xc3\xbcnchen.de", "http://xn--mnchen-3ya.de/" },
	{ "http://B\xc3\x9c" "CHER.de/", "http://xn--bcher-kva.de/" },
	{ "http://\xef\xbc\xa5\xef\xbc\xb8\xef\xbc\xa1\xef\xbc\xad\xef\xbc\xb0"
	  "\xef\xbc\xac\xef\xbc\xa5.com/", "http://example.com/" },
	{ "http://fa\xc3\x9f.de/", "http://xn--fa-hia.de/" },
	{ "http://b%C3%BCcher.de/", "http://xn--bcher-kva.de/" },
	{ "http://ex%41mple.com/", "http://example.com/" },
	{ "http://www.EXAMPLE.com/", "http://www.example.com/" },
	{ "http://a_b.example.com/", "http://a_b.example.com/" },
	{ "http://a-b.example.com/", "http://a-b.example.com/" },
	{ "http://example.com./", "http://example.com./" },
	{ "http://Example.COM./x", "http://example.com./x" },

	/* IP literals, as curl normalises them. */
	{ "http://0x7f.1/", "http://127.0.0.1/" },
	{ "http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a" },
	{ "http://[::1]/", "http://[::1]/" },
	{ "http://[0:0::1]/", "http://[::1]/" },
	{ "http://[2001:DB8::1]:443/", "http://[2001:db8::1]:443/" },
	{ "https://[2001:db8::1]:443/", "https://[2001:db8::1]/" },
	{ "http://1.2.3/", "http://1.2.0.3/" },
	/* curl decodes a host's escapes after normalising IPv4: the second
	 * parse normalises what decoding made. */
	{ "http://%31%32%37.0.01/", "http://127.0.0.1/" },
	{ "http://192.168.%30/", "http://192.168.0.0/" },
	{ "http://%30x7f.1/x", "http://127.0.0.1/x" },
	{ "http://9gag.com/", "http://9gag.com/" },

	/* Slashes after the scheme, as curl accepts them. */
	{ "http:/example.com/x", "http://example.com/x" },
	{ "http:///example.com/x", "http://example.com/x" },

	/* Surrounding whitespace. */
	{ "  https://example.com", "https://example.com/" },
	{ "https://example.com \n", "https://example.com/" },
	{ "\t\r\nhttps://example.com/a b\f\v", "https://example.com/a%20b" },

	/* Left alone: path case, trailing slashes, index pages, session ids. */
	{ "http://a.com/Dir/", "http://a.com/Dir/" },
	{ "http://a.com/dir", "http://a.com/dir" },
	{ "http://a.com/index.html", "http://a.com/index.html" },
	{ "http://www.florida-chemical.com/Diacetone-Alcohol-DAA-99.html"
	  "?xid_0b629=12854b827878df26423d933a5baf86d5",
	  "http://www.florida-chemical.com/Diacetone-Alcohol-DAA-99.html"
	  "?xid_0b629=12854b827878df26423d933a5baf86d5" },
	{ "http://www.maroongroupllc.com/maroon/login/auth;"
	  "jsessionid=8DBFC2FEDBD740BBC8B4D1A504A6DE7F",
	  "http://www.maroongroupllc.com/maroon/login/auth;"
	  "jsessionid=8DBFC2FEDBD740BBC8B4D1A504A6DE7F" },
	{ "http://dev.com/s&utax/NEWSRLSEfy18.pdf",
	  "http://dev.com/s&utax/NEWSRLSEfy18.pdf" },
};

static const struct url_reject url_rejects[] = {
	{ "", URL_BAD_SCHEME },
	{ " \t ", URL_BAD_SCHEME },
	{ "example.com/x", URL_BAD_SCHEME },
	{ "www.example.com", URL_BAD_SCHEME },
	{ "//example.com/x", URL_BAD_SCHEME },
	{ "/relative/path", URL_BAD_SCHEME },
	{ "ftp://a.com/", URL_BAD_SCHEME },
	{ "file:///etc/passwd", URL_BAD_SCHEME },
	{ "mailto:a@b.c", URL_BAD_SCHEME },
	{ "javascript:alert(1)", URL_BAD_SCHEME },
	{ "data:text/html,hi", URL_BAD_SCHEME },
	{ "ws://a.com/", URL_BAD_SCHEME },
	{ "sftp://UsEr:PaSsWoRd@www.EXAMPLE.com/", URL_BAD_SCHEME },
	{ "http://", URL_MALFORMED },
	{ "https://", URL_MALFORMED },
	{ "http://user:pass@www.example.com:81/do?now=1", URL_USERINFO },
	{ "http://user@a.com/", URL_USERINFO },
	{ "http://@a.com/", URL_USERINFO },
	{ "http://:@a.com/", URL_USERINFO },
	{ "http://:pw@a.com/", URL_USERINFO },
	{ "http://bank.com@evil.example/", URL_USERINFO },
	{ "http://a.com:0/", URL_MALFORMED },
	{ "http://a.com:65536/", URL_MALFORMED },
	{ "http://a.com:-1/", URL_MALFORMED },
	{ "http://a.com:8o/", URL_MALFORMED },
	{ "http://a..com/", URL_MALFORMED },
	{ "http://.a.com/", URL_MALFORMED },
	{ "http://a.com../", URL_MALFORMED },
	{ "http://a .com/", URL_MALFORMED },
	{ "http://a.com\\b", URL_MALFORMED },
	{ "http://%zz.com/", URL_MALFORMED },
	{ "http://a%20b.com/", URL_MALFORMED },
	{ "http://www.test[.org/test", URL_MALFORMED },
	{ "http://`$smarty.server.server_name`", URL_MALFORMED },
	{ "http://google.com&d=4&good=true", URL_MALFORMED },
	{ "http://[fe80::1%25eth0]/", URL_MALFORMED },
	{ "http://[::1/", URL_MALFORMED },
	{ "http://[zz::1]/", URL_MALFORMED },
	{ "http://a.com/x\ty", URL_MALFORMED },
	{ "http://a.com/x\ny", URL_MALFORMED },
	{ "http://a.com/x\ry", URL_MALFORMED },
	{ "http://a.com/\x01!", URL_MALFORMED },
	{ "http://a.com/\x1a!", URL_MALFORMED },
	{ "http://a.com/\x7f", URL_MALFORMED },
	{ "http://\xff.com/", URL_MALFORMED },
	{ "http://www.exampleexampleexampleexampleexampleexampleexampleexample"
	  "exampleexampleexample.com/", URL_MALFORMED },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *c = &url_cases[i];
		char *out = (char *)1;
		enum url_status st = url_canonicalize(c->in, NULL, &out);

		if (st != URL_OK || strcmp(out, c->want) != 0)
			print_error("row %zu: %s\n  want %s\n  got  %s (%s)\n",
			    i, c->in, c->want, st == URL_OK ? out : "-",
			    url_status_name(st));
		assert_int_equal(st, URL_OK);
		assert_string_equal(out, c->want);
		free(out);
	}
	assert_true(sizeof(url_cases) / sizeof(url_cases[0]) >= 150);
}

/* Canonicalising a canonical form (the expected one, and what came out)
 * changes nothing. */
static void
test_idempotent(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		char *once = NULL, *twice = NULL;

		assert_int_equal(url_canonicalize(url_cases[i].want, NULL, &once),
		    URL_OK);
		assert_string_equal(once, url_cases[i].want);
		assert_int_equal(url_canonicalize(once, NULL, &twice), URL_OK);
		assert_string_equal(twice, once);
		free(once);
		free(twice);
	}
}

static void
test_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(url_rejects) / sizeof(url_rejects[0]);
	    i++) {
		char *out = (char *)1;
		enum url_status st = url_canonicalize(url_rejects[i].in, NULL,
		    &out);

		if (st != url_rejects[i].want)
			print_error("reject row %zu: %s: want %s got %s\n", i,
			    url_rejects[i].in,
			    url_status_name(url_rejects[i].want),
			    url_status_name(st));
		assert_int_equal(st, url_rejects[i].want);
		assert_null(out);
	}
}

static void
test_strip_params(void **state)
{
	static const char *const extra[] = { "ref", "sess*", "", NULL };
	struct url_opts o;
	char *out = NULL;

	(void)state;
	url_opts_default(&o);
	o.strip_params = extra;
	assert_int_equal(url_canonicalize("http://a.com/?ref=1&Ref=2&"
	    "referrer=3&sessid=4&SESSION=5&x=1&=6&utm_id=7", &o, &out), URL_OK);
	/* "" only matches the empty key. */
	assert_string_equal(out, "http://a.com/?referrer=3&x=1");
	free(out);
	/* Without the extra list, only the built-in trackers go. */
	assert_int_equal(url_canonicalize("http://a.com/?ref=1&sessid=4",
	    NULL, &out), URL_OK);
	assert_string_equal(out, "http://a.com/?ref=1&sessid=4");
	free(out);
}

static void
test_max_length(void **state)
{
	struct url_opts o;
	char url[4096], *out = NULL;
	size_t n;

	(void)state;
	url_opts_default(&o);
	assert_int_equal(o.max_length, 2048);
	assert_null(o.strip_params);
	n = (size_t)snprintf(url, sizeof(url), "http://a.com/");
	memset(url + n, 'x', 2048 - n);
	url[2048] = '\0';
	assert_int_equal(url_canonicalize(url, NULL, &out), URL_OK);
	assert_int_equal(strlen(out), 2048);
	free(out);
	/* Whitespace around does not count. */
	memmove(url + 2, url, 2049);
	url[0] = ' ';
	url[1] = '\n';
	assert_int_equal(url_canonicalize(url, NULL, &out), URL_OK);
	free(out);
	url[2050] = 'x';
	url[2051] = '\0';
	assert_int_equal(url_canonicalize(url, NULL, &out), URL_TOO_LONG);
	assert_null(out);
	/* The canonical form is held to the limit too: é grows to %C3%A9. */
	o.max_length = 24;
	assert_int_equal(url_canonicalize("http://a.com/\xc3\xa9\xc3\xa9",
	    &o, &out), URL_TOO_LONG);
	assert_int_equal(url_canonicalize("http://a.com/\xc3\xa9", &o, &out),
	    URL_OK);
	assert_string_equal(out, "http://a.com/%C3%A9");
	free(out);
	/* Only the final form: escaping takes this one over the limit, the
	 * dot segments it reveals bring it back. */
	o.max_length = 26;
	assert_int_equal(url_canonicalize("http://a.com/\xc3\xa9\xc3\xa9/"
	    "%2e%2e/x", &o, &out), URL_OK);
	assert_string_equal(out, "http://a.com/x");
	free(out);
	assert_int_equal(url_canonicalize("http://a.com/\xc3\xa9\xc3\xa9/x",
	    &o, &out), URL_TOO_LONG);
	assert_null(out);
}

static void
test_embedded_nul(void **state)
{
	static const char in[] = "http://a.com/x\0/evil";
	char *out = NULL;

	(void)state;
	assert_int_equal(url_canonicalize_n(in, sizeof(in) - 1, NULL, &out),
	    URL_MALFORMED);
	assert_null(out);
	assert_int_equal(url_canonicalize_n(in, 14, NULL, &out), URL_OK);
	assert_string_equal(out, "http://a.com/x");
	free(out);
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(url_status_name(URL_OK), "ok");
	assert_string_equal(url_status_name(URL_MALFORMED), "malformed");
	assert_string_equal(url_status_name(URL_BAD_SCHEME), "bad_scheme");
	assert_string_equal(url_status_name(URL_TOO_LONG), "too_long");
	assert_string_equal(url_status_name(URL_NOMEM), "nomem");
	assert_string_equal(url_status_name(URL_USERINFO), "userinfo");
	assert_string_equal(url_status_name((enum url_status)99), "unknown");
	for (int s = URL_OK; s <= URL_USERINFO; s++)
		assert_true(strlen(url_status_message((enum url_status)s)) > 5);
	assert_non_null(strstr(url_status_message(URL_BAD_SCHEME), "http"));
	assert_non_null(url_status_message((enum url_status)99));
}

static void
test_origin(void **state)
{
	static const struct url_case rows[] = {
		{ "https://a.com/x", "https://a.com:443" },
		{ "http://a.com/x", "http://a.com:80" },
		{ "http://A.com:8080/x?y#z", "http://a.com:8080" },
		{ "https://a.com:80/", "https://a.com:80" },
		{ "http://b\xc3\xbc" "cher.de/", "http://xn--bcher-kva.de:80" },
		{ "http://[::1]/", "http://[::1]:80" },
		{ "http://www.a.com./", "http://www.a.com.:80" },
	};
	char *out = (char *)1;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(url_origin(rows[i].in, &out), URL_OK);
		assert_string_equal(out, rows[i].want);
		free(out);
	}
	assert_int_equal(url_origin("ftp://a.com/", &out), URL_BAD_SCHEME);
	assert_null(out);
	assert_int_equal(url_origin("http://u:p@a.com/", &out), URL_USERINFO);
	assert_int_equal(url_origin("http://a..b/", &out), URL_MALFORMED);
	assert_int_equal(url_origin("nonsense", &out), URL_BAD_SCHEME);
}

static void
test_same_site(void **state)
{
	static const struct { const char *a, *b; bool same; } rows[] = {
		{ "http://www.a.com/x", "http://a.com/y", true },
		{ "http://a.com/x", "https://a.com/x", true },
		{ "http://a.com:8080/", "http://a.com/", true },
		{ "http://A.COM/", "http://a.com/", true },
		{ "http://a.com./", "http://a.com/", true },
		{ "http://www.a.com/", "http://www.a.com./", true },
		{ "http://b\xc3\xbc" "cher.de/", "http://xn--bcher-kva.de/", true },
		{ "http://news.a.com/", "http://a.com/", false },
		{ "http://a.com/", "http://b.com/", false },
		{ "http://www.www.a.com/", "http://a.com/", false },
		{ "http://evil-a.com/", "http://a.com/", false },
		{ "http://a.com.evil.com/", "http://a.com/", false },
		{ "http://a.com/", "not a url", false },
		{ "ftp://a.com/", "http://a.com/", false },
		{ "http://u@a.com/", "http://a.com/", false },
		{ "http://127.0.0.1/", "http://0x7f.1/", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(url_same_site(rows[i].a, rows[i].b),
		    rows[i].same);
		assert_int_equal(url_same_site(rows[i].b, rows[i].a),
		    rows[i].same);
	}
}

/* url_host_key() slices the text; it must agree with url_origin(). */
static void
test_host_key_matches_origin(void **state)
{
	static const char *const in[] = {
		"http://Example.COM/a", "https://example.com:443/x?b=1&a=2",
		"http://example.com:8080/", "https://[::1]/p",
		"http://[2001:db8::7]:8443/q#f", "HTTPS://bücher.example/",
		"http://127.0.0.1:18500/p/1.html", "https://a.b.c.example.org",
	};
	struct url_opts o;

	url_opts_default(&o);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char *canon = NULL, *origin = NULL, *sliced = NULL;

		assert_int_equal(url_canonicalize(in[i], &o, &canon), URL_OK);
		assert_int_equal(url_origin(canon, &origin), URL_OK);
		assert_true(url_host_key(canon, &sliced) != 0);
		if (strcmp(origin, sliced) != 0)
			fail_msg("%s: url_origin %s, url_host_key %s", canon,
			    origin, sliced);
		free(canon);
		free(origin);
		free(sliced);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_key_matches_origin),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_strip_params),
		cmocka_unit_test(test_max_length),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_same_site),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
