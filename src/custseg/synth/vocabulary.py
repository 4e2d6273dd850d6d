"""Data tables of the synthetic export: categories, states and cities, order statuses, review texts."""
from __future__ import annotations

# Order statuses other than delivered, with their shares of orders (the real export: ~3%).
_OTHER_STATUSES = ("canceled", "unavailable", "shipped", "invoiced", "processing", "created", "approved")
_STATUSES = ("delivered", *_OTHER_STATUSES)
_OTHER_STATUS_SHARES = (0.0063, 0.0061, 0.0111, 0.0032, 0.0030, 0.0001, 0.0001)
_UNDELIVERED_SCORES = (0.62, 0.08, 0.1, 0.05, 0.15)  # reviews of orders that never arrived
_TITLE_SHARE = 0.12
_MESSAGE_SHARE = (0.77, 0.68, 0.43, 0.31, 0.36)  # by score
_MOVE_SHARE = 0.1  # later orders of a person shipped to another address
# Share of purchases by hour of the day (the real export: few at night, flat from 10h to 22h)
_HOURLY = (2.4, 1.2, 0.5, 0.3, 0.2, 0.2, 0.5, 1.2, 3.0, 4.8, 6.2, 6.6, 6.0, 6.6, 6.6, 6.5, 6.7, 6.2, 5.8,
           6.0, 6.2, 6.3, 5.8, 4.1)

# (state, weight ~ real customers, [(city, zip prefix low, high, lat, lng), ...]); first city = capital
_STATES: tuple[tuple[str, int, tuple[tuple[str, int, int, float, float], ...]], ...] = (
    ("SP", 41746, (("sao paulo", 1000, 5999, -23.55, -46.63), ("guarulhos", 7000, 7399, -23.46, -46.53),
                   ("osasco", 6000, 6299, -23.53, -46.79), ("sao bernardo do campo", 9600, 9899, -23.69, -46.56),
                   ("campinas", 13000, 13139, -22.91, -47.06), ("santos", 11000, 11249, -23.96, -46.33),
                   ("ribeirao preto", 14000, 14114, -21.18, -47.81), ("franca", 14400, 14414, -20.54, -47.40),
                   ("sorocaba", 18000, 18109, -23.50, -47.46),
                   ("sao jose dos campos", 12200, 12249, -23.19, -45.88))),
    ("RJ", 12852, (("rio de janeiro", 20000, 23799, -22.91, -43.17), ("niteroi", 24000, 24399, -22.88, -43.10),
                   ("nova iguacu", 26000, 26099, -22.76, -43.45), ("petropolis", 25600, 25779, -22.51, -43.18),
                   ("campos dos goytacazes", 28000, 28099, -21.75, -41.32))),
    ("MG", 11635, (("belo horizonte", 30000, 31999, -19.92, -43.94), ("contagem", 32000, 32399, -19.93, -44.05),
                   ("uberlandia", 38400, 38415, -18.92, -48.28), ("juiz de fora", 36000, 36099, -21.76, -43.35),
                   ("montes claros", 39400, 39409, -16.73, -43.86))),
    ("RS", 5466, (("porto alegre", 90000, 91999, -30.03, -51.23), ("caxias do sul", 95000, 95124, -29.17, -51.18),
                  ("pelotas", 96000, 96099, -31.77, -52.34), ("canoas", 92000, 92499, -29.92, -51.18))),
    ("PR", 5045, (("curitiba", 80000, 82999, -25.43, -49.27), ("londrina", 86000, 86099, -23.31, -51.16),
                  ("maringa", 87000, 87099, -23.42, -51.94), ("ponta grossa", 84000, 84099, -25.09, -50.16))),
    ("SC", 3637, (("florianopolis", 88000, 88099, -27.59, -48.55), ("joinville", 89200, 89239, -26.30, -48.85),
                  ("blumenau", 89000, 89099, -26.92, -49.07))),
    ("BA", 3380, (("salvador", 40000, 42599, -12.97, -38.50), ("feira de santana", 44000, 44099, -12.27, -38.97),
                  ("vitoria da conquista", 45000, 45099, -14.86, -40.84))),
    ("DF", 2140, (("brasilia", 70000, 72799, -15.79, -47.88),)),
    ("ES", 2033, (("vitoria", 29000, 29099, -20.32, -40.34), ("vila velha", 29100, 29129, -20.33, -40.29),
                  ("serra", 29160, 29184, -20.13, -40.31))),
    ("GO", 2020, (("goiania", 74000, 74899, -16.68, -49.25), ("anapolis", 75000, 75149, -16.33, -48.95),
                  ("aparecida de goiania", 74900, 74999, -16.82, -49.24))),
    ("PE", 1652, (("recife", 50000, 52999, -8.05, -34.88), ("jaboatao dos guararapes", 54000, 54499, -8.11, -35.01),
                  ("caruaru", 55000, 55099, -8.28, -35.98))),
    ("CE", 1336, (("fortaleza", 60000, 61599, -3.73, -38.52), ("juazeiro do norte", 63000, 63099, -7.21, -39.32))),
    ("PA", 975, (("belem", 66000, 66999, -1.46, -48.50), ("santarem", 68000, 68109, -2.44, -54.71))),
    ("MT", 907, (("cuiaba", 78000, 78109, -15.60, -56.10), ("rondonopolis", 78700, 78749, -16.47, -54.64))),
    ("MA", 747, (("sao luis", 65000, 65109, -2.53, -44.30), ("imperatriz", 65900, 65919, -5.53, -47.48))),
    ("MS", 715, (("campo grande", 79000, 79124, -20.47, -54.62), ("dourados", 79800, 79849, -22.22, -54.81))),
    ("PB", 536, (("joao pessoa", 58000, 58099, -7.12, -34.86), ("campina grande", 58400, 58449, -7.23, -35.88))),
    ("PI", 495, (("teresina", 64000, 64099, -5.09, -42.80), ("parnaiba", 64200, 64219, -2.90, -41.78))),
    ("RN", 485, (("natal", 59000, 59159, -5.79, -35.21), ("mossoro", 59600, 59649, -5.19, -37.34))),
    ("AL", 413, (("maceio", 57000, 57099, -9.67, -35.74), ("arapiraca", 57300, 57319, -9.75, -36.66))),
    ("SE", 350, (("aracaju", 49000, 49099, -10.91, -37.07),)),
    ("TO", 280, (("palmas", 77000, 77299, -10.18, -48.33), ("araguaina", 77800, 77829, -7.19, -48.21))),
    ("RO", 253, (("porto velho", 76800, 76834, -8.76, -63.90), ("ji-parana", 76900, 76919, -10.88, -61.95))),
    ("AM", 148, (("manaus", 69000, 69099, -3.12, -60.02),)),
    ("AC", 81, (("rio branco", 69900, 69923, -9.97, -67.81),)),
    ("AP", 68, (("macapa", 68900, 68911, -0.03, -51.07),)),
    ("RR", 46, (("boa vista", 69300, 69339, 2.82, -60.67),)),
)
# The geolocation table spells some cities with accents, some without (as the real one does).
_ACCENTED = {
    "sao paulo": "são paulo", "niteroi": "niterói", "florianopolis": "florianópolis",
    "brasilia": "brasília", "goiania": "goiânia", "belem": "belém", "cuiaba": "cuiabá",
    "sao luis": "são luís", "maceio": "maceió", "joao pessoa": "joão pessoa", "macapa": "macapá",
    "maringa": "maringá", "ribeirao preto": "ribeirão preto", "vitoria": "vitória",
}

#: Product categories, one a row: Portuguese name, English translation ("-": the real export has
#: none, as for the last two), popularity weight.
_CATEGORY_ROWS = """
cama_mesa_banho                               bed_bath_table                  11.1
beleza_saude                                  health_beauty                   9.7
esporte_lazer                                 sports_leisure                  8.7
moveis_decoracao                              furniture_decor                 7.4
informatica_acessorios                        computers_accessories           6.9
utilidades_domesticas                         housewares                      6.2
relogios_presentes                            watches_gifts                   5.3
telefonia                                     telephony                       4.0
ferramentas_jardim                            garden_tools                    3.9
automotivo                                    auto                            3.8
brinquedos                                    toys                            3.7
cool_stuff                                    cool_stuff                      3.4
perfumaria                                    perfumery                       3.1
bebes                                         baby                            2.7
eletronicos                                   electronics                     2.5
papelaria                                     stationery                      2.3
fashion_bolsas_e_acessorios                   fashion_bags_accessories        1.8
pet_shop                                      pet_shop                        1.7
moveis_escritorio                             office_furniture                1.5
consoles_games                                consoles_games                  1.0
malas_acessorios                              luggage_accessories             1.0
construcao_ferramentas_construcao             construction_tools_construction 0.8
eletrodomesticos                              home_appliances                 0.7
instrumentos_musicais                         musical_instruments             0.6
eletroportateis                               small_appliances                0.6
casa_construcao                               home_construction               0.5
livros_interesse_geral                        books_general_interest          0.5
alimentos                                     food                            0.4
moveis_sala                                   furniture_living_room           0.4
casa_conforto                                 home_confort                    0.4
bebidas                                       drinks                          0.3
audio                                         audio                           0.3
market_place                                  market_place                    0.3
climatizacao                                  air_conditioning                0.3
artes                                         art                             0.2
flores                                        flowers                         0.05
pc_gamer                                      -                               0.1
portateis_cozinha_e_preparadores_de_alimentos -                               0.1
"""
_CATEGORIES: tuple[tuple[str, str | None, float], ...] = tuple(
    (name, None if english == "-" else english, float(weight))
    for name, english, weight in (row.split() for row in _CATEGORY_ROWS.strip().splitlines())
)
_NO_CATEGORY_WEIGHT = 1.8  # products without a category (their name/description fields are empty too)

_TITLES = {
    "low": ("Não recomendo", "Péssimo", "Não chegou", "Atrasou", "Ruim"),
    "mid": ("Regular", "Razoável", "Mais ou menos"),
    "high": ("Recomendo", "Ótimo", "Super recomendo", "Muito bom", "Excelente"),
}
_MESSAGES = {
    "low": (
        "Produto não chegou até agora, estou aguardando.",
        "Entrega atrasada, muito tempo esperando",
        "Comprei e o produto veio com defeito, quero a devolução.",
        "Péssimo atendimento. Não recomendo a loja",
        "O prazo de entrega não foi cumprido",
        "Recebi apenas um dos produtos que comprei.\nAguardo o restante.",
    ),
    "mid": (
        "Produto ok, mas a entrega demorou",
        "Veio diferente da foto, mas serve.",
        "Bom produto, porém o frete é caro",
        "Razoável pelo preço",
    ),
    "high": (
        "Recebi bem antes do prazo estipulado.",
        "Produto de ótima qualidade, chegou rápido",
        "Tudo certo, recomendo!",
        "Vendedor confiável, produto ok e entrega antes do prazo.",
        "Adorei o produto",
        "Muito bom, superou minhas expectativas",
    ),
}
